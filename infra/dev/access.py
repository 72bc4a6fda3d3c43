"""Who may open the dashboard of a dev stack, decided before gunicorn starts.

The dashboard can delete and retry jobs, so it is never reachable from other machines
without a login: on a loopback WEB_HOST it runs in dev mode (SIDEQUEST_WEB_DEV, no
login); otherwise it needs SIDEQUEST_WEB_USERNAME/PASSWORD, and when none are given a
login is generated for this run and printed.
"""

from __future__ import annotations

import secrets
from collections.abc import MutableMapping

from infra.dev.settings import DevConfigError, DevSettings

GENERATED_USERNAME = "admin"


def dashboard_access(settings: DevSettings, environment: MutableMapping[str, str]) -> str:
    """Set the dashboard variables in `environment`; returns how to log in, for the URLs.

    Raises:
        DevConfigError: Half a login is given, or dev mode is asked for on an address
            other machines can reach.
    """
    username = environment.get("SIDEQUEST_WEB_USERNAME", "")
    password = environment.get("SIDEQUEST_WEB_PASSWORD", "")
    if bool(username) != bool(password):
        raise DevConfigError(
            "set both SIDEQUEST_WEB_USERNAME and SIDEQUEST_WEB_PASSWORD, or neither"
        )
    if username:
        environment.pop("SIDEQUEST_WEB_DEV", None)
        return f"login {username!r} with the password in SIDEQUEST_WEB_PASSWORD"
    if settings.web_on_loopback:
        environment["SIDEQUEST_WEB_DEV"] = "1"
        return "no login: dev mode, served on loopback only"
    if settings.web_dev:
        raise DevConfigError(
            f"SIDEQUEST_WEB_DEV would serve the dashboard without a login on "
            f"WEB_HOST={settings.web_host}; set it off (a login is then generated) or bind "
            f"WEB_HOST=127.0.0.1"
        )
    generated = secrets.token_urlsafe(12)
    environment["SIDEQUEST_WEB_USERNAME"] = GENERATED_USERNAME
    environment["SIDEQUEST_WEB_PASSWORD"] = generated
    return (
        f"login {GENERATED_USERNAME} / {generated} (generated for this run: WEB_HOST "
        f"{settings.web_host} is reachable from other machines)"
    )
