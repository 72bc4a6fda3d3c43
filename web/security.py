"""Response headers for every page, and CSRF tokens for the HTML forms.

The pages run no inline script and load nothing from elsewhere, so the
Content-Security-Policy allows only the app's own files. The JSON API needs no CSRF
token: it only accepts `application/json` bodies, which a cross-site form cannot send
and a cross-site script cannot send without a CORS preflight this app never answers.
"""

from __future__ import annotations

import hmac
import secrets

from flask import Flask, Response, request, session
from werkzeug.exceptions import BadRequest

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
CSRF_FIELD = "csrf_token"
_SESSION_KEY = "csrf_token"


def csrf_token() -> str:
    """This session's CSRF token, created on first use (templates put it in forms)."""
    token = session.get(_SESSION_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[_SESSION_KEY] = token
    return token


def check_csrf() -> None:
    """Refuse a form POST whose token does not match the session's.

    Raises:
        BadRequest: The token is missing or wrong (400).
    """
    if request.method != "POST":
        return
    expected = session.get(_SESSION_KEY)
    sent = request.form.get(CSRF_FIELD, "")
    if not isinstance(expected, str) or not hmac.compare_digest(expected, sent):
        raise BadRequest(
            "the form's security token is missing or expired; reload the page and submit again"
        )


def install_security(app: Flask) -> None:
    """Set the headers on every response and offer `csrf_token()` to templates."""
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.after_request(_security_headers)


def _security_headers(response: Response) -> Response:
    # A view that serves other content (a report's own HTML) sets its own policy.
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response
