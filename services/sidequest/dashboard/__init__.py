"""The sidequest dashboard: a Flask blueprint to watch and steer jobs, like Sidekiq's Web UI.

    from sidequest.dashboard import Dashboard

    app.config["SIDEQUEST_WEB_USERNAME"] = "admin"
    app.config["SIDEQUEST_WEB_PASSWORD"] = os.environ["DASHBOARD_PASSWORD"]
    Dashboard().init_app(app, url_prefix="/sidequest", redis=os.environ["REDIS_URL"])

or on its own: `sidequest web --port 8080` (standalone.py).

It reads and changes Redis only through `sidequest.api`, from raw payloads: it never
imports job classes, so it can watch jobs pushed by Ruby Sidekiq clients and classes
this process has never loaded. Access control, CSRF and response headers: security.py.
Every query parameter is bounded: params.py. Settings: config.py.
"""

from sidequest.dashboard.extension import Dashboard
from sidequest.dashboard.security import AuthHook

__all__ = ["AuthHook", "Dashboard"]
