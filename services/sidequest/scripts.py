"""The Lua scripts in `lua/`, each called by SHA through one typed wrapper.

Scripts are loaded once per server with SCRIPT LOAD and called with EVALSHA. After a
Redis restart the server has forgotten them: a NOSCRIPT reply makes us load the
script again and repeat the call (as Sidekiq's scheduler does). Inside pipelines we
do the same per failed call, so a pipeline never runs a script twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any

import redis
from redis.exceptions import NoScriptError

if TYPE_CHECKING:
    import redis.asyncio

Key = str
Arg = str | int | float | bytes


class Script:
    """One `.lua` file: its source, its SHA1, and how to call it."""

    def __init__(self, name: str):
        self.name = name
        self.source = resources.files("sidequest").joinpath("lua", f"{name}.lua").read_text()
        self.sha = hashlib.sha1(self.source.encode()).hexdigest()

    def __call__(self, client: redis.Redis, keys: Sequence[Key], args: Sequence[Arg]) -> Any:
        try:
            return client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            client.script_load(self.source)
            return client.evalsha(self.sha, len(keys), *keys, *args)

    async def call_async(
        self, client: redis.asyncio.Redis, keys: Sequence[Key], args: Sequence[Arg]
    ) -> Any:
        """`__call__` on redis-py's asyncio client (enqueues from async code)."""
        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            await client.script_load(self.source)
            return await client.evalsha(self.sha, len(keys), *keys, *args)

    def queue(self, pipe: redis.client.Pipeline, keys: Sequence[Key], args: Sequence[Arg]) -> None:
        """Add a call to a pipeline; run it with `run_pipeline` to handle NOSCRIPT."""
        pipe.evalsha(self.sha, len(keys), *keys, *args)


EXCHANGE = Script("exchange")
FAIL = Script("fail")
REQUEUE = Script("requeue")
REQUEUE_LANDED = Script("requeue_landed")
RECOVER = Script("recover")
PROMOTE = Script("promote")
PUSH_UNIQUE = Script("push_unique")
KILL = Script("kill")

ALL = (EXCHANGE, FAIL, REQUEUE, REQUEUE_LANDED, RECOVER, PROMOTE, PUSH_UNIQUE, KILL)


class ScriptPipeline:
    """A non-transactional pipeline that remembers its script calls.

    When the server answers NOSCRIPT for a call (it restarted since we loaded the
    scripts), that call alone is repeated through `Script.__call__`, which loads it.
    Other errors are raised after the whole pipeline ran, as redis-py does.
    """

    def __init__(self, client: redis.Redis):
        self.client = client
        self.pipe = client.pipeline(transaction=False)
        self._script_calls: list[tuple[int, Script, Sequence[Key], Sequence[Arg]]] = []

    def script(self, script: Script, keys: Sequence[Key], args: Sequence[Arg]) -> None:
        self._script_calls.append((len(self.pipe), script, keys, args))
        script.queue(self.pipe, keys, args)

    def execute(self) -> list[Any]:
        if len(self.pipe) == 0:
            return []
        results: list[Any] = self.pipe.execute(raise_on_error=False)
        for index, script, keys, args in self._script_calls:
            if isinstance(results[index], NoScriptError):
                results[index] = script(self.client, keys, args)
        for result in results:
            if isinstance(result, Exception):
                raise result
        return results


def load_all(client: redis.Redis) -> None:
    """Load every script, e.g. right after (re)connecting."""
    for script in ALL:
        client.script_load(script.source)
