"""The dashboard blueprint: routes from views/, access control on every request,
security headers on every response, and a 503 page when Redis cannot be reached.

A new Blueprint is built for each app, so one process may mount the dashboard on
several apps (or twice in tests) without sharing registration state.
"""

from __future__ import annotations

import time
from typing import Any

import redis
from flask import Blueprint, Response, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from sidequest.dashboard import formatting, security, state
from sidequest.dashboard.views import (
    batches,
    busy,
    common,
    flow,
    limits,
    metrics,
    overview,
    periodic,
    queues,
    sorted_sets,
)

BLUEPRINT_NAME = "sidequest_dashboard"


def build_blueprint() -> Blueprint:
    blueprint = Blueprint(
        BLUEPRINT_NAME,
        __name__,
        template_folder="templates",
        static_folder="static",
        static_url_path="/static",
    )
    blueprint.before_request(_authenticate)
    blueprint.after_request(_headers)
    blueprint.register_error_handler(redis.RedisError, _redis_unavailable)
    blueprint.register_error_handler(HTTPException, _http_error)
    blueprint.context_processor(_template_globals)
    for name, function in formatting.FILTERS.items():  # app-wide, hence the prefix
        blueprint.add_app_template_filter(function, "sq_" + name)
    for module in (overview, busy, queues, sorted_sets, periodic, limits, batches, metrics, flow):
        module.register(blueprint)
    return blueprint


def _authenticate() -> BaseResponse | None:
    current = state.current()
    if current.auth is not None:
        verdict = current.auth()
        if isinstance(verdict, BaseResponse):
            return verdict
        if verdict is not True:
            return Response("Forbidden.\n", status=403, mimetype="text/plain")
    elif current.config.username is not None and current.config.password is not None:
        given = security.basic_credentials(request)
        if not security.credentials_match(given, current.config.username, current.config.password):
            return security.challenge()
    security.check_state_change(request)
    return None


def _headers(response: Response) -> Response:
    return security.add_security_headers(
        response, static=request.endpoint == f"{BLUEPRINT_NAME}.static"
    )


def _wants_json() -> bool:
    return request.path.endswith(".json")


def _redis_unavailable(error: redis.RedisError) -> tuple[Any, int]:
    message = f"Redis is unavailable: {error}"
    if _wants_json():
        return {"error": "redis_unavailable", "message": message}, 503
    return render_template("sidequest_dashboard/error.html", status=503, message=message), 503


def _http_error(error: HTTPException) -> Any:
    status = error.code or 500
    # Server errors say nothing of their cause to the browser; the log has it.
    message = error.description if status < 500 and error.description else error.name
    if _wants_json():
        return {"error": error.name, "message": message}, status
    return render_template("sidequest_dashboard/error.html", status=status, message=message), status


def _template_globals() -> dict[str, Any]:
    return {
        "csrf_token": security.csrf_token,
        "take_notice": common.take_notice,
        "now": time.time(),
    }
