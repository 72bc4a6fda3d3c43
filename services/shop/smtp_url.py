"""SMTP_URL parsing: where mail goes and how to talk to it.

Accepted forms::

    smtp://host[:port]                   plain SMTP (default port 25)
    smtp+starttls://user:pass@host:587   SMTP upgraded with STARTTLS (default port 587)
    smtps://user:pass@host:465           SMTP inside TLS from the start (default port 465)

User name and password are percent-decoded, so `%40` stands for `@` in either.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit


class SmtpSecurity(enum.Enum):
    """How the connection to the SMTP server is protected."""

    PLAIN = "smtp"
    STARTTLS = "smtp+starttls"
    TLS = "smtps"


_DEFAULT_PORTS = {SmtpSecurity.PLAIN: 25, SmtpSecurity.STARTTLS: 587, SmtpSecurity.TLS: 465}


@dataclass(frozen=True)
class SmtpEndpoint:
    """A parsed SMTP_URL.

    Attributes:
        host: Server host name or address.
        port: Server TCP port.
        security: Plain, STARTTLS or implicit TLS.
        username: Login name, or None to skip authentication.
        password: Login password; kept out of `repr`.
    """

    host: str
    port: int
    security: SmtpSecurity = SmtpSecurity.PLAIN
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def parse_smtp_url(url: str) -> SmtpEndpoint:
    """Turn an SMTP URL into an endpoint.

    Raises:
        ValueError: The URL has an unknown scheme, no host, a bad port, a password
            without a user name, or a path, query or fragment (which mean nothing here).
    """
    if not isinstance(url, str) or not url.strip():
        raise ValueError("must be a URL such as smtp://127.0.0.1:1025")
    parts = urlsplit(url.strip())
    try:
        security = SmtpSecurity(parts.scheme.lower())
    except ValueError:
        raise ValueError(
            f"unsupported scheme {parts.scheme!r} in {redact_smtp_url(url)!r} "
            "(expected smtp, smtp+starttls or smtps)"
        ) from None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"{redact_smtp_url(url)!r} must not have a path, query or fragment")
    host = parts.hostname
    if not host:
        raise ValueError(f"{redact_smtp_url(url)!r} has no host")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{redact_smtp_url(url)!r} has an invalid port") from None
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and username is None:
        raise ValueError(f"{redact_smtp_url(url)!r} has a password but no user name")
    return SmtpEndpoint(
        host=host,
        port=port if port is not None else _DEFAULT_PORTS[security],
        security=security,
        username=username,
        password=password,
    )


def redact_smtp_url(url: str) -> str:
    """The URL with any password replaced by ***, for error messages and logs."""
    parts = urlsplit(url.strip())
    if parts.password is None:
        return url.strip()
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
