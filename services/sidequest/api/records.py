"""Jobs as stored in Redis, readable without importing their classes."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from sidequest import payload


def text(value: bytes | str) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _readable(value: str) -> str:
    """`value` with lone UTF-16 surrogates as U+FFFD: they have no UTF-8 form, and a page
    or a terminal showing one would fail to encode it."""
    return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _replace_lone_surrogates(root: dict[str, Any]) -> None:
    """Make every string in a parsed payload readable, in place (without recursion: the
    payload may nest as deep as the JSON parser allows)."""
    stack: list[dict[str, Any] | list[Any]] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in list(node.items()):
                del node[key]
                node[_readable(key)] = _readable(value) if isinstance(value, str) else value
            children: list[Any] = list(node.values())
        else:
            node[:] = [_readable(item) if isinstance(item, str) else item for item in node]
            children = node
        stack.extend(child for child in children if isinstance(child, dict | list))


class JobRecord:
    """One stored job: the raw payload and what can be read from it.

    A payload that is not a JSON object still makes a record (`item` is empty and
    `parse_error` says why), so pages and the CLI can show and delete it.
    """

    def __init__(self, raw: bytes | str, queue: str | None = None):
        self.raw_bytes = raw if isinstance(raw, bytes) else raw.encode()
        self.raw = text(raw)
        self.parse_error: str | None = None
        try:
            parsed = json.loads(self.raw)
        except ValueError as error:
            parsed = None
            self.parse_error = f"not valid JSON: {error}"
        except RecursionError:
            parsed = None
            self.parse_error = "nested too deeply to read"
        if parsed is not None and not isinstance(parsed, dict):
            self.parse_error = f"JSON {type(parsed).__name__}, not an object"
            parsed = None
        if parsed and "\\u" in self.raw and _SURROGATE_ESCAPE.search(self.raw):
            _replace_lone_surrogates(parsed)
        self.item: dict[str, Any] = parsed or {}
        self._queue = queue

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.jid} {self.display_class}>"

    @property
    def jid(self) -> str:
        return str(self.item.get("jid", ""))

    @property
    def klass(self) -> str:
        return str(self.item.get("class", ""))

    @property
    def display_class(self) -> str:
        return payload.display_class(self.item) if self.item else "(malformed)"

    @property
    def args(self) -> list[Any]:
        args = self.item.get("args")
        return args if isinstance(args, list) else []

    @property
    def display_args(self) -> list[Any]:
        return payload.display_args(self.item) if self.item else [self.raw]

    @property
    def queue(self) -> str:
        queue = self.item.get("queue")
        return queue if isinstance(queue, str) else (self._queue or "")

    @property
    def created_at(self) -> float | None:
        return payload.timestamp(self.item.get("created_at"))

    @property
    def enqueued_at(self) -> float | None:
        return payload.timestamp(self.item.get("enqueued_at"))

    @property
    def failed_at(self) -> float | None:
        return payload.timestamp(self.item.get("failed_at"))

    @property
    def retried_at(self) -> float | None:
        return payload.timestamp(self.item.get("retried_at"))

    @property
    def retry_count(self) -> int | None:
        count = self.item.get("retry_count")
        return count if isinstance(count, int) and not isinstance(count, bool) else None

    @property
    def error_class(self) -> str | None:
        value = self.item.get("error_class")
        return str(value) if value is not None else None

    @property
    def error_message(self) -> str | None:
        value = self.item.get("error_message")
        return str(value) if value is not None else None

    @property
    def backtrace(self) -> list[str]:
        return payload.decode_backtrace(self.item.get("error_backtrace"))

    def latency(self, now: float) -> float:
        started = self.enqueued_at or self.created_at
        return max(0.0, now - started) if started is not None else 0.0

    def matches(self, needle: str) -> bool:
        """Case-insensitive match on the displayed class or anywhere in the payload."""
        lowered = needle.lower()
        return lowered in self.display_class.lower() or lowered in self.raw.lower()


@dataclass(frozen=True)
class EntryId:
    """How pages name an entry of a sorted set: `<score>|<jid>` (Sidekiq's format)."""

    score: float
    jid: str

    def __str__(self) -> str:
        return f"{self.score!r}|{self.jid}"

    @classmethod
    def parse(cls, value: str) -> EntryId:
        score, separator, jid = value.partition("|")
        if not separator:
            raise ValueError(f"entry id must look like <score>|<jid>, got {value!r}")
        number = float(score)
        if not math.isfinite(number):
            raise ValueError(f"entry id has no finite score: {value!r}")
        return cls(number, jid)


class SortedEntry(JobRecord):
    """An entry of `schedule`, `retry` or `dead`, with its score."""

    def __init__(self, raw: bytes | str, score: float, set_name: str):
        super().__init__(raw)
        self.score = score
        self.set_name = set_name

    @property
    def at(self) -> float:
        return self.score

    @property
    def id(self) -> EntryId:
        return EntryId(self.score, self.jid)
