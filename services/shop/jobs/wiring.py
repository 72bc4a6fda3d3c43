"""What the shop's jobs work with (settings, database sessions, mail transport), set once
per process.

Job code never reads the environment; it asks `current()`. Composition roots set the
wiring: the worker entry point and the web app call `configure(settings)`, tests call
`configure(...)` with their own database, SMTP server and directories and `reset()`
afterwards. A process that runs the jobs without any of our entry points, such as a
bare `sidequest worker -r shop.jobs`, gets the wiring built on first use from
`ShopSettings.from_env()`, the domain's single reader of the environment.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from shop.db.engine import SessionFactory, session_factory_for
from shop.mail.transport import MailTransport, SmtpTransport
from shop.settings import ShopSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobWiring:
    """The objects a job needs besides its arguments.

    Attributes:
        settings: Where data lives and mail goes.
        session_factory: Sessions on the shop's database.
        transport: How mail is sent.
    """

    settings: ShopSettings
    session_factory: SessionFactory
    transport: MailTransport


_lock = threading.Lock()
_current: JobWiring | None = None
_owned_factory: SessionFactory | None = None


def configure(
    settings: ShopSettings,
    *,
    session_factory: SessionFactory | None = None,
    transport: MailTransport | None = None,
) -> JobWiring:
    """Set the wiring every job in this process uses from now on.

    Args:
        settings: The shop's settings.
        session_factory: Sessions to use; one for `settings.database_url` when omitted
            (its engine is then disposed by `reset()` or the next `configure()`).
        transport: Mail transport; SMTP to `settings.smtp_url` when omitted.

    Returns:
        The wiring now in place.
    """
    global _current, _owned_factory
    owned = None
    if session_factory is None:
        session_factory = owned = session_factory_for(settings.database_url)
    wiring = JobWiring(
        settings=settings,
        session_factory=session_factory,
        transport=transport if transport is not None else SmtpTransport(settings.smtp),
    )
    with _lock:
        previous_owned = _owned_factory
        _current, _owned_factory = wiring, owned
    _dispose(previous_owned)
    return wiring


def current() -> JobWiring:
    """The wiring in place, built from the environment on first use if nobody set it.

    Raises:
        SettingsError: The wiring had to come from the environment and a variable there
            is malformed; the error names it.
    """
    global _current, _owned_factory
    wiring = _current
    if wiring is not None:
        return wiring
    with _lock:
        # Checked again under the lock, so that concurrent first jobs share one engine.
        if _current is None:
            settings = ShopSettings.from_env()
            logger.info("shop jobs wired from the environment: %r", settings)
            factory = session_factory_for(settings.database_url)
            _current = JobWiring(settings, factory, SmtpTransport(settings.smtp))
            _owned_factory = factory
        return _current


def reset() -> None:
    """Forget the wiring (tests call this after each test); disposes engines it created."""
    global _current, _owned_factory
    with _lock:
        owned = _owned_factory
        _current = _owned_factory = None
    _dispose(owned)


def _dispose(factory: SessionFactory | None) -> None:
    bind = factory.kw.get("bind") if factory is not None else None
    if bind is not None:
        bind.dispose()
