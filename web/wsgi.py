"""The WSGI entry point: `gunicorn -c web/gunicorn.conf.py web.wsgi:app`.

Logging is set up here, in the process that serves requests, as the worker sets up its
own: LOG_FORMAT (text or json, default text) and LOG_LEVEL (default INFO) apply to the
application's and sidequest's loggers. gunicorn's own error and access logs keep its
format.
"""

import os

from sidequest import logs
from web import create_app

logs.configure(os.environ.get("LOG_FORMAT") or "text", os.environ.get("LOG_LEVEL") or "INFO")
app = create_app()
