"""Who may see the dashboard, which requests may change state, and the response headers.

- Authentication: HTTP basic auth against SIDEQUEST_WEB_USERNAME/PASSWORD, or the host
  app's own check passed to `init_app(auth=...)`. Sidekiq's OSS Web UI ships with none
  and leaves it to the mounting app; we refuse to start without one instead (see
  extension.py), because a job dashboard can delete and re-run production work.
- State changes: only POST, and only with the session's CSRF token. Browsers that say
  where a request comes from (Sec-Fetch-Site, Origin) must also say it is this origin,
  which is what Sidekiq 8.1 relies on alone; we check both.
- Headers: a Content-Security-Policy without inline script or style (Sidekiq 7.2 and
  7.3 made the same move after its XSS history), nosniff, no framing, no caching.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from collections.abc import Callable
from urllib.parse import urlsplit

from flask import Request, Response, session
from werkzeug.exceptions import Forbidden
from werkzeug.wrappers import Response as BaseResponse

CSRF_SESSION_KEY = "sidequest_csrf"
CSRF_FORM_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

# The host app's check: True lets the request in; False refuses it with 403; a
# Response (e.g. a redirect to the app's login page) is sent as it is.
AuthHook = Callable[[], "bool | BaseResponse"]


def basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, separator, password = decoded.partition(":")
    return (username, password) if separator else None


def credentials_match(given: tuple[str, str] | None, username: str, password: str) -> bool:
    if given is None:
        return False
    # Compare both parts in constant time, and always both, so timing tells nothing.
    user_ok = hmac.compare_digest(given[0].encode(), username.encode())
    password_ok = hmac.compare_digest(given[1].encode(), password.encode())
    return user_ok and password_ok


def challenge() -> Response:
    return Response(
        "Authentication required.\n",
        status=401,
        mimetype="text/plain",
        headers={"WWW-Authenticate": 'Basic realm="sidequest", charset="UTF-8"'},
    )


def csrf_token() -> str:
    """This session's token, created on first use."""
    token = session.get(CSRF_SESSION_KEY)
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        session[CSRF_SESSION_KEY] = token
    return token


def check_state_change(request: Request) -> None:
    """Raise Forbidden unless a non-safe request is same-origin and carries the token."""
    if request.method in SAFE_METHODS:
        return
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site != "same-origin":
        raise Forbidden(f"Cross-site request refused (Sec-Fetch-Site: {fetch_site[:40]}).")
    origin = request.headers.get("Origin")
    if origin is not None and urlsplit(origin).netloc != request.host:
        raise Forbidden("Cross-origin request refused (Origin does not match this host).")
    expected = session.get(CSRF_SESSION_KEY)
    given = request.form.get(CSRF_FORM_FIELD) or request.headers.get(CSRF_HEADER) or ""
    if not isinstance(expected, str) or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Forbidden(
            "The form's security token is missing or stale: reload the page and try again."
        )


def add_security_headers(response: Response, *, static: bool) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if not static:
        response.headers["Cache-Control"] = "no-store"
    return response
