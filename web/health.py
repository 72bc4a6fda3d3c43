"""Probes: `/healthz` (the process answers) and `/readyz` (Redis and the database too).

Liveness deliberately checks nothing else: an orchestrator restarting the web tier
because Redis is down would not bring Redis back.
"""

from __future__ import annotations

import time

import redis
from flask import Blueprint, Response, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from shop.db import read_session
from web.services import services

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """200 while the process serves requests."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    """200 when Redis and the database answer, 503 naming what does not."""
    checks = {"redis": _check_redis(), "database": _check_database()}
    ready = all(check["ok"] for check in checks.values())
    response = jsonify({"status": "ready" if ready else "unavailable", "checks": checks})
    response.status_code = 200 if ready else 503
    return response


def _check_redis() -> dict[str, object]:
    started = time.perf_counter()
    try:
        services().redis.ping()
    except redis.RedisError as error:
        return {"ok": False, "error": f"{type(error).__name__}: {error}"}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 2)}


def _check_database() -> dict[str, object]:
    started = time.perf_counter()
    try:
        with read_session(services().session_factory) as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        # The first line only: driver messages go on with connection details.
        cause = getattr(error, "orig", None) or error
        summary = (str(cause).splitlines() or [""])[0]
        return {"ok": False, "error": f"{type(error).__name__}: {summary}"}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 2)}
