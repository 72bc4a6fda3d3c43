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


def _lua(name: str) -> str:
    return resources.files("sidequest").joinpath("lua", f"{name}.lua").read_text()


class Script:
    """One `.lua` file: its source, its SHA1, and how to call it.

    `library` names a `.lua` file of shared functions put in front of the script's own
    text (Redis scripts cannot import): batch_lib.lua, so that the scripts finishing
    jobs do their batch bookkeeping in the same atomic call.
    """

    def __init__(self, name: str, library: str | None = None):
        self.name = name
        own = _lua(name)
        if library is not None:
            # The script's own header stays first: it is what the file is documented by.
            header, _, body = own.partition("\n\n")
            own = header + "\n\n" + _lua(library) + "\n" + body
        self.source = own
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


BATCH_LIB = "batch_lib"
EXCHANGE = Script("exchange", BATCH_LIB)
FAIL = Script("fail", BATCH_LIB)
REQUEUE = Script("requeue")
REQUEUE_LANDED = Script("requeue_landed")
RECOVER = Script("recover", BATCH_LIB)
PROMOTE = Script("promote")
PUSH_UNIQUE = Script("push_unique")
KILL = Script("kill", BATCH_LIB)
BATCH_PUSH = Script("batch_push", BATCH_LIB)
DEBOUNCE = Script("debounce")
OUTBOX_PUSH = Script("outbox_push")
LIMIT_ACQUIRE = Script("limit_acquire")
LIMIT_RELEASE = Script("limit_release")
LIMIT_SWEEP = Script("limit_sweep")
LIMIT_REFRESH = Script("limit_refresh")
LIMIT_PRUNE = Script("limit_prune")

ALL = (
    EXCHANGE,
    FAIL,
    REQUEUE,
    REQUEUE_LANDED,
    RECOVER,
    PROMOTE,
    PUSH_UNIQUE,
    KILL,
    DEBOUNCE,
    LIMIT_ACQUIRE,
    LIMIT_RELEASE,
    LIMIT_SWEEP,
    LIMIT_REFRESH,
    LIMIT_PRUNE,
    BATCH_PUSH,
    OUTBOX_PUSH,
)


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
