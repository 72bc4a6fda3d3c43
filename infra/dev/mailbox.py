"""The dev mail sink's storage: one .eml file per message in a directory.

Messages are numbered in arrival order (000001.eml, 000002.eml, ...) and written
atomically (a temporary name, then a rename), so a reader never sees half a message.
Summaries are shaped like Mailpit's API (`ID`, `From`, `To`, `Subject`, `Created`), so
the stack tests read the dev sink and the Compose stack's Mailpit the same way.
"""

from __future__ import annotations

import email.policy
import os
import re
import threading
from datetime import UTC, datetime
from email.headerregistry import Address
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

_NAME = re.compile(r"^(\d{6,})\.eml$")
_HEADERS = BytesHeaderParser(policy=email.policy.default)


class UnknownMessage(LookupError):
    """No message has this id."""


class Mailbox:
    def __init__(self, directory: Path):
        self.directory = directory
        self._lock = threading.Lock()
        self.directory.mkdir(parents=True, exist_ok=True)
        numbers = [int(match.group(1)) for match in map(_NAME.match, self._names()) if match]
        self._last = max(numbers, default=0)

    def _names(self) -> list[str]:
        return [entry.name for entry in os.scandir(self.directory) if _NAME.match(entry.name)]

    def save(self, data: bytes) -> str:
        """Store one message; returns its id."""
        with self._lock:
            self._last += 1
            number = self._last
        message_id = f"{number:06d}"
        temporary = self.directory / f".{message_id}.eml.tmp"
        temporary.write_bytes(data)
        os.replace(temporary, self.directory / f"{message_id}.eml")
        return message_id

    def ids(self) -> list[str]:
        """Every message id, newest first (Mailpit's order)."""
        return sorted((name[: -len(".eml")] for name in self._names()), reverse=True)

    def path(self, message_id: str) -> Path:
        if not re.fullmatch(r"\d{6,}", message_id):
            raise UnknownMessage(message_id)
        path = self.directory / f"{message_id}.eml"
        if not path.is_file():
            raise UnknownMessage(message_id)
        return path

    def raw(self, message_id: str) -> bytes:
        return self.path(message_id).read_bytes()

    def summary(self, message_id: str) -> dict[str, Any]:
        path = self.path(message_id)
        with path.open("rb") as handle:
            headers = _HEADERS.parse(handle)
        created = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        return {
            "ID": message_id,
            "MessageID": str(headers.get("Message-ID", "")).strip("<>"),
            "From": _address(headers, "From"),
            "To": _addresses(headers, "To"),
            "Subject": str(headers.get("Subject", "")),
            "Created": created.isoformat().replace("+00:00", "Z"),
            "Size": path.stat().st_size,
        }

    def page(self, start: int, limit: int) -> dict[str, Any]:
        """A page of summaries, newest first, with the totals (Mailpit's response shape)."""
        ids = self.ids()
        chosen = ids[start : start + limit]
        messages = []
        for message_id in chosen:
            try:
                messages.append(self.summary(message_id))
            except UnknownMessage:
                continue  # deleted between the listing and the read
        return {
            "total": len(ids),
            "unread": 0,
            "count": len(messages),
            "start": start,
            "tags": [],
            "messages": messages,
        }


def _as_dict(address: Address) -> dict[str, str]:
    return {"Name": address.display_name, "Address": address.addr_spec}


def _addresses(headers: Any, name: str) -> list[dict[str, str]]:
    header = headers.get(name)
    if header is None:
        return []
    return [_as_dict(address) for address in getattr(header, "addresses", ())]


def _address(headers: Any, name: str) -> dict[str, str]:
    found = _addresses(headers, name)
    return found[0] if found else {"Name": "", "Address": ""}
