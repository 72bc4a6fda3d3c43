"""A real SMTP server (aiosmtpd) on a free port that keeps what it receives.

`SmtpSink` runs in the test process, in aiosmtpd's own thread. It can be told to
answer the next commands with an error (`fail_next`), e.g. a 451 on DATA to prove a
retry, and offers STARTTLS, implicit TLS and AUTH with a self-signed certificate
(`self_signed_certificate`). Tests that need the sink in another process run it as

    python -m tests.support.smtp_server --port 1025 --maildir DIR

which stores every message as DIR/<n>.eml (written atomically) until stopped.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import os
import signal
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.support.polling import wait_for
from tests.support.ports import free_port

STAGES = ("MAIL", "RCPT", "DATA")


@dataclass(frozen=True)
class ReceivedMail:
    """One message as the server got it.

    Attributes:
        mail_from: Envelope sender.
        recipients: Envelope recipients.
        data: The raw message bytes.
        message: The message parsed with the modern e-mail policy.
        login: The user name the client authenticated as, if it did.
    """

    mail_from: str
    recipients: tuple[str, ...]
    data: bytes
    message: EmailMessage
    login: str | None = None


@dataclass
class _PlannedFailure:
    stage: str
    reply: str


@dataclass
class _SinkState:
    lock: threading.Lock = field(default_factory=threading.Lock)
    received: list[ReceivedMail] = field(default_factory=list)
    failures: list[_PlannedFailure] = field(default_factory=list)
    data_attempts: int = 0


class _Handler:
    """aiosmtpd handler: applies planned failures, then stores the message."""

    def __init__(
        self, state: _SinkState, on_message: Callable[[ReceivedMail], None] | None
    ) -> None:
        self.state = state
        self.on_message = on_message

    def _planned(self, stage: str) -> str | None:
        with self.state.lock:
            for index, failure in enumerate(self.state.failures):
                if failure.stage == stage:
                    del self.state.failures[index]
                    return failure.reply
        return None

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self._planned("MAIL")
        if reply is not None:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self._planned("RCPT")
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.state.lock:
            self.state.data_attempts += 1
        reply = self._planned("DATA")
        if reply is not None:
            return reply
        raw = envelope.original_content or b""
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        login = (
            session.auth_data.login.decode()
            if isinstance(session.auth_data, LoginPassword)
            else None
        )
        mail = ReceivedMail(
            mail_from=envelope.mail_from or "",
            recipients=tuple(envelope.rcpt_tos),
            data=raw,
            message=parsed,
            login=login,
        )
        with self.state.lock:
            self.state.received.append(mail)
        if self.on_message is not None:
            self.on_message(mail)
        return "250 Message accepted for delivery"


class SmtpSink:
    """An aiosmtpd server on 127.0.0.1 that records messages and can fail on demand."""

    def __init__(
        self,
        *,
        port: int | None = None,
        tls: tuple[Path, Path] | None = None,
        implicit_tls: bool = False,
        users: dict[str, str] | None = None,
        on_message: Callable[[ReceivedMail], None] | None = None,
    ) -> None:
        """Configure the server; `start()` (or `with`) runs it.

        Args:
            port: Port to listen on; a free one when omitted.
            tls: (certificate, key) files: offers STARTTLS, or wraps the whole
                connection in TLS when `implicit_tls` is set.
            implicit_tls: Speak TLS from the first byte (smtps) instead of STARTTLS.
            users: Logins the server accepts (user name to password); AUTH is then
                required, over TLS when TLS is configured.
            on_message: Called in the server thread with every accepted message.
        """
        if implicit_tls and tls is None:
            raise ValueError("implicit_tls needs a (certificate, key) pair in tls")
        self.port = port if port is not None else free_port()
        self._state = _SinkState()
        self._users = dict(users or {})
        self._controller = self._build_controller(tls, implicit_tls, on_message)

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def url(self) -> str:
        """A plain smtp:// URL for this server (add TLS or credentials yourself)."""
        return f"smtp://{self.host}:{self.port}"

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def messages(self) -> list[ReceivedMail]:
        """The messages accepted so far, oldest first."""
        with self._state.lock:
            return list(self._state.received)

    @property
    def data_attempts(self) -> int:
        """How many DATA commands arrived, failed ones included."""
        with self._state.lock:
            return self._state.data_attempts

    def clear(self) -> None:
        """Forget received messages, planned failures and counters."""
        with self._state.lock:
            self._state.received.clear()
            self._state.failures.clear()
            self._state.data_attempts = 0

    def fail_next(
        self,
        stage: str = "DATA",
        *,
        code: int = 451,
        text: str = "4.3.0 Try again later",
        times: int = 1,
    ) -> None:
        """Answer the next `times` commands of `stage` (MAIL, RCPT or DATA) with an error."""
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
        if not 400 <= code < 600:
            raise ValueError(f"code must be a 4xx or 5xx SMTP reply code, got {code}")
        with self._state.lock:
            self._state.failures.extend(
                _PlannedFailure(stage, f"{code} {text}") for _ in range(times)
            )

    def wait_for_messages(self, count: int, timeout: float = 10.0) -> list[ReceivedMail]:
        """Wait until at least `count` (1 or more) messages arrived and return all of them."""
        if count < 1:
            raise ValueError("count must be at least 1; check `messages` for none")
        return wait_for(
            lambda: self.messages if len(self.messages) >= count else [],
            timeout=timeout,
            message=f"{count} message(s) at the SMTP sink on port {self.port}",
        )

    def _build_controller(
        self,
        tls: tuple[Path, Path] | None,
        implicit_tls: bool,
        on_message: Callable[[ReceivedMail], None] | None,
    ) -> Controller:
        options: dict[str, Any] = {}
        server_context = None
        if tls is not None:
            server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            server_context.load_cert_chain(str(tls[0]), str(tls[1]))
            if not implicit_tls:
                options["tls_context"] = server_context
        if self._users:
            options["authenticator"] = self._authenticate
            options["auth_required"] = True
            options["auth_require_tls"] = tls is not None
        return Controller(
            _Handler(self._state, on_message),
            hostname=self.host,
            port=self.port,
            ssl_context=server_context if implicit_tls else None,
            **options,
        )

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        accepted = self._users.get(user) == password
        return AuthResult(
            success=accepted, handled=False, auth_data=auth_data if accepted else None
        )


def self_signed_certificate(directory: Path, *, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """Create a certificate and key for `host` (and localhost) with the openssl CLI.

    Returns:
        (certificate path, key path); the certificate doubles as the CA a client
        must trust.
    """
    directory.mkdir(parents=True, exist_ok=True)
    certificate, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(certificate), "-subj", f"/CN={host}",
            "-addext", f"subjectAltName=IP:{host},DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return certificate, key


def client_context_trusting(certificate: Path) -> ssl.SSLContext:
    """A client TLS context that trusts exactly this (self-signed) certificate."""
    return ssl.create_default_context(cafile=str(certificate))


@contextmanager
def running_smtp_sink(**options: Any) -> Iterator[SmtpSink]:
    """Start an `SmtpSink` for the duration of a `with` block."""
    with SmtpSink(**options) as sink:
        yield sink


def _save_to_maildir(directory: Path) -> Callable[[ReceivedMail], None]:
    counter = iter(range(1, 2**62))
    lock = threading.Lock()

    def save(mail: ReceivedMail) -> None:
        with lock:
            number = next(counter)
        temporary = directory / f".{number:06d}.eml.tmp"
        temporary.write_bytes(mail.data)
        os.replace(temporary, directory / f"{number:06d}.eml")

    return save


def main(argv: list[str] | None = None) -> None:
    """Run a sink as a process until SIGTERM or SIGINT, storing messages as .eml files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--maildir", type=Path, required=True)
    arguments = parser.parse_args(argv)
    arguments.maildir.mkdir(parents=True, exist_ok=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    with SmtpSink(port=arguments.port, on_message=_save_to_maildir(arguments.maildir)):
        print(f"smtp sink listening on 127.0.0.1:{arguments.port}", flush=True)
        stopped.wait()


if __name__ == "__main__":
    main()
