"""Sending mail over SMTP, with failures sorted into retry-later and give-up.

A new connection is opened for every message: the shop sends few mails, and a fresh
connection never trips over a server that dropped an idle one.

How failures are sorted (the original exception is chained as `__cause__`):

- `PermanentMailError`: the server answered 5xx to the sender, a recipient or the
  data. Sending the same message again cannot succeed.
- `TransientMailError`: everything else: refused or lost connections, timeouts, TLS
  and authentication failures, 4xx answers. A retry may succeed, also once somebody
  fixed a configuration mistake.

`smtplib.SMTPException` is an `OSError`, so retrying on OSError would also retry
permanent refusals; callers should decide on these two classes instead.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
import ssl
from email.message import EmailMessage
from typing import Protocol

from shop.errors import MailError, PermanentMailError, TransientMailError
from shop.smtp_url import SmtpEndpoint, SmtpSecurity, parse_smtp_url

DEFAULT_TIMEOUT_SECONDS = 15.0
logger = logging.getLogger(__name__)


class MailTransport(Protocol):
    """Anything that can hand a message to a mail server."""

    def send(self, message: EmailMessage) -> None:
        """Send the message to the recipients in its To, Cc and Bcc headers.

        Raises:
            TransientMailError: Sending failed and may succeed later.
            PermanentMailError: The server refused the message for good.
        """


class SmtpTransport:
    """Sends each message over a new SMTP connection to one endpoint."""

    def __init__(
        self,
        endpoint: SmtpEndpoint,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> None:
        """Configure the transport; nothing connects until `send`.

        Args:
            endpoint: Where to connect and how.
            timeout: Seconds allowed for connecting and for each server reply.
            ssl_context: TLS settings for smtps and STARTTLS; the system's trusted
                CAs with host name checks when omitted.
            local_hostname: Name to greet the server with; the machine's FQDN when
                omitted.
        """
        self.endpoint = endpoint
        self.timeout = timeout
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.local_hostname = local_hostname

    @classmethod
    def from_url(cls, url: str, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> SmtpTransport:
        """A transport for an SMTP URL (see `shop.smtp_url`).

        Raises:
            ValueError: The URL is malformed.
        """
        return cls(parse_smtp_url(url), timeout=timeout)

    def send(self, message: EmailMessage) -> None:
        """Send one message; see the module docstring for the errors raised.

        When the server accepts some recipients and refuses others, the message
        counts as sent (it did go out) and the refusals are logged.
        """
        try:
            client = self._connect()
        except (smtplib.SMTPException, OSError) as error:
            raise classify_smtp_error(error) from error
        try:
            refused = client.send_message(message)
        except (smtplib.SMTPException, OSError) as error:
            raise classify_smtp_error(error) from error
        finally:
            _close_quietly(client)
        if refused:
            logger.warning(
                "SMTP server refused some recipients of %s: %s", message["Message-ID"], refused
            )

    def _connect(self) -> smtplib.SMTP:
        endpoint = self.endpoint
        client: smtplib.SMTP
        if endpoint.security is SmtpSecurity.TLS:
            client = smtplib.SMTP_SSL(
                endpoint.host,
                endpoint.port,
                local_hostname=self.local_hostname,
                timeout=self.timeout,
                context=self.ssl_context,
            )
        else:
            client = smtplib.SMTP(
                endpoint.host,
                endpoint.port,
                local_hostname=self.local_hostname,
                timeout=self.timeout,
            )
        try:
            if endpoint.security is SmtpSecurity.STARTTLS:
                client.starttls(context=self.ssl_context)
            if endpoint.username is not None:
                client.login(endpoint.username, endpoint.password or "")
        except BaseException:
            _close_quietly(client)
            raise
        return client


def classify_smtp_error(error: BaseException) -> MailError:
    """Sort an smtplib or socket failure into a transient or a permanent mail error.

    Only a 5xx reply to the sender, the recipients or the data is permanent.
    """
    permanent, description, code = _describe(error)
    if permanent:
        return PermanentMailError(description, smtp_code=code)
    return TransientMailError(description, smtp_code=code)


def _describe(error: BaseException) -> tuple[bool, str, int | None]:
    """(permanent?, what happened, SMTP reply code) for one failure."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return _describe_refused_recipients(error)
    if isinstance(error, smtplib.SMTPAuthenticationError):
        reply = f"{error.smtp_code} {_text(error.smtp_error)}"
        return False, f"SMTP login failed ({reply}); check SMTP_URL", error.smtp_code
    if isinstance(error, smtplib.SMTPConnectError | smtplib.SMTPHeloError):
        reply = f"{error.smtp_code} {_text(error.smtp_error)}"
        return False, f"SMTP server rejected the connection: {reply}", error.smtp_code
    if isinstance(error, smtplib.SMTPResponseException):
        reply = f"{error.smtp_code} {_text(error.smtp_error)}"
        if 500 <= error.smtp_code < 600:
            return True, f"SMTP server refused the message: {reply}", error.smtp_code
        return False, f"SMTP server deferred the message: {reply}", error.smtp_code
    return False, f"SMTP delivery failed: {type(error).__name__}: {error}", None


def _describe_refused_recipients(
    error: smtplib.SMTPRecipientsRefused,
) -> tuple[bool, str, int | None]:
    codes = [code for code, _reply in error.recipients.values()]
    detail = ", ".join(
        f"{address}: {code} {_text(reply)}" for address, (code, reply) in error.recipients.items()
    )
    if codes and all(500 <= code < 600 for code in codes):
        return True, f"recipients refused: {detail}", max(codes)
    return False, f"recipients refused for now: {detail}", min(codes, default=None)


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def _close_quietly(client: smtplib.SMTP) -> None:
    # The message was handled (or failed) already; a failing QUIT changes nothing.
    with contextlib.suppress(smtplib.SMTPException, OSError):
        client.quit()
    with contextlib.suppress(OSError):
        client.close()
