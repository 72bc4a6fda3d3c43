"""The signups JSON API: `POST /api/signups {"email", "name"}` -> 202."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from web.json_body import json_body
from web.services import services
from web.workflows import sign_up

bp = Blueprint("signups_api", __name__, url_prefix="/api/signups")


@bp.post("")
def create() -> Response:
    """Create the user and enqueue the welcome mail, preferences and admin notice."""
    data = json_body()
    user, jobs = sign_up(services().session_factory, data)
    response = jsonify({"user": user.as_dict(), "jobs": jobs.as_dict()})
    response.status_code = 202
    return response
