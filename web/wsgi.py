"""The WSGI entry point: `gunicorn -c web/gunicorn.conf.py web.wsgi:app`.

Logging is set up here, in the process that serves requests, as the worker sets up its
own: LOG_FORMAT (text or json, default text) and LOG_LEVEL (default INFO) apply to the
application's and sidequest's loggers. gunicorn's own error and access logs keep its
format.
"""

import os

from sidequest import logs
from web import create_app
from web.settings import log_settings

logs.configure(*log_settings(os.environ))
app = create_app()
