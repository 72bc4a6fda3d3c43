"""Reading a JSON request body strictly, with an error that says what is wrong."""

from __future__ import annotations

import json

from flask import request
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

JSON_MIMETYPE = "application/json"


def json_body() -> object:
    """The request body decoded as JSON.

    The body size is capped by the app's MAX_CONTENT_LENGTH before it is read
    (werkzeug answers 413 past it).

    Raises:
        UnsupportedMediaType: The Content-Type is not application/json (415).
        BadRequest: The body is empty or not valid JSON (400).
        RequestEntityTooLarge: The body is larger than allowed (413).
    """
    if request.mimetype != JSON_MIMETYPE:
        sent = request.mimetype or "no Content-Type"
        raise UnsupportedMediaType(f"send the body as {JSON_MIMETYPE}, not {sent}")
    raw = request.get_data(cache=False)
    if not raw.strip():
        raise BadRequest("the request body is empty; send a JSON object")
    try:
        return json.loads(raw)
    except RecursionError:
        raise BadRequest("the request body is nested too deeply") from None
    except ValueError as error:
        raise BadRequest(f"the request body is not valid JSON: {error}") from None
