"""Listening to a Redis channel from a test without sleeping on timeouts."""

from __future__ import annotations

import time

import redis

END = "--end-of-test-messages--"


class Subscription:
    """A channel subscribed (and confirmed) before the test acts.

    `messages()` publishes an end marker and reads up to it, so a test learns that
    nothing was published without waiting for a timeout.
    """

    def __init__(self, client: redis.Redis, channel: str):
        self.client = client
        self.channel = channel
        self.pubsub = client.pubsub()  # type: ignore[no-untyped-call]
        self.pubsub.subscribe(channel)
        confirmation = self.pubsub.get_message(timeout=5)
        assert confirmation is not None and confirmation["type"] == "subscribe"

    def messages(self) -> list[str]:
        """Everything published on the channel since the last call."""
        self.client.publish(self.channel, END)
        seen: list[str] = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            message = self.pubsub.get_message(timeout=1)
            if message is None or message["type"] != "message":
                continue
            data = message["data"]
            text = data.decode() if isinstance(data, bytes) else str(data)
            if text == END:
                return seen
            seen.append(text)
        raise AssertionError(f"the end marker never arrived on {self.channel}")

    def close(self) -> None:
        self.pubsub.close()
