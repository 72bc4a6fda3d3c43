"""Error answers: JSON for the API and probes, an HTML page for people; never a trace.

Every failure a client can cause maps to a 4xx naming the problem; an unreachable Redis
or database maps to 503; anything else is a 500 whose details stay in the log.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, current_app, jsonify, render_template, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import (
    HTTPException,
    InternalServerError,
    MethodNotAllowed,
    RequestEntityTooLarge,
)

from shop.errors import DuplicateEmail, InvalidInput, ReportNotFound, ReportNotReady, UserNotFound
from sidequest.errors import EnqueueError

logger = logging.getLogger(__name__)

#: seconds a client should wait before trying again after a 503
RETRY_AFTER_SECONDS = 5
_JSON_PATHS = ("/api/", "/healthz", "/readyz")


def wants_json() -> bool:
    """Whether this request should get JSON back rather than an HTML page."""
    if request.path.startswith(_JSON_PATHS):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def error_response(status: int, message: str, **details: Any) -> Response:
    """A JSON (or HTML, for people) error answer with `status`."""
    if wants_json():
        response = jsonify({"error": message, "status": status, **details})
    else:
        page = render_template("error.html", status=status, message=message, details=details)
        response = Response(page, mimetype="text/html")
    response.status_code = status
    if status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def register_error_handlers(app: Flask) -> None:
    """Install the handlers that turn exceptions into the answers above."""
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InvalidInput, _invalid_input)
    app.register_error_handler(ReportNotFound, _not_found)
    app.register_error_handler(UserNotFound, _not_found)
    app.register_error_handler(DuplicateEmail, _conflict)
    app.register_error_handler(ReportNotReady, _conflict)
    app.register_error_handler(EnqueueError, _queue_unavailable)
    app.register_error_handler(SQLAlchemyError, _database_unavailable)
    app.register_error_handler(InternalServerError, _internal_error)


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    message = error.description or error.name
    if isinstance(error, RequestEntityTooLarge):
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        message = f"the request body is larger than the limit of {limit} bytes"
    response = error_response(status, message)
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def _invalid_input(error: InvalidInput) -> Response:
    details = error.as_dict()
    return error_response(422, str(details.pop("error")), **details)


def _not_found(error: ReportNotFound | UserNotFound) -> Response:
    return error_response(404, str(error))


def _conflict(error: DuplicateEmail | ReportNotReady) -> Response:
    return error_response(409, str(error))


def _queue_unavailable(error: EnqueueError) -> Response:
    logger.error("enqueue failed: %s", error)
    return error_response(503, "the job queue (Redis) is unavailable; try again shortly")


def _database_unavailable(error: SQLAlchemyError) -> Response:
    logger.error("database error: %s", error)
    return error_response(503, "the database is unavailable; try again shortly")


def _internal_error(error: InternalServerError) -> Response:
    original = error.original_exception
    if original is not None:
        logger.error("unhandled error on %s %s", request.method, request.path, exc_info=original)
    return error_response(500, "internal error; it has been logged")
