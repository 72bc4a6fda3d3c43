"""The signups API: the user is stored, then the three signup jobs are enqueued."""

from __future__ import annotations

import json

import redis
from flask.testing import FlaskClient

from shop.accounts import find_user_by_email
from shop.db import SessionFactory
from tests.support.polling import wait_for


def test_a_signup_stores_the_user_and_enqueues_the_three_jobs(
    client: FlaskClient, redis_client: redis.Redis, session_factory: SessionFactory
) -> None:
    response = client.post("/api/signups", json={"email": "Ann@Example.org", "name": " Ann  Lee "})

    assert response.status_code == 202
    body = response.get_json()
    user = find_user_by_email(session_factory, "ann@example.org")
    assert user is not None
    assert body["user"] == {**user.as_dict()}
    assert (user.email, user.name) == ("ann@example.org", "Ann Lee")
    # Through the outbox: the app's relay thread pushes them right after the commit.
    wait_for(lambda: redis_client.llen("queue:default") == 3, message="the relayed jobs")
    queued = [json.loads(raw) for raw in redis_client.lrange("queue:default", 0, -1)]
    assert sorted((job["class"], tuple(job["args"])) for job in queued) == [
        ("NotifyAdminOfSignupJob", (user.id,)),
        ("SendWelcomeEmailJob", (user.id,)),
        ("SetupDefaultPreferencesJob", (user.id,)),
    ]
    jids = {job["class"]: job["jid"] for job in queued}
    assert body["jobs"] == {
        "welcome_email": jids["SendWelcomeEmailJob"],
        "default_preferences": jids["SetupDefaultPreferencesJob"],
        "admin_notification": jids["NotifyAdminOfSignupJob"],
    }
    assert redis_client.exists(f"sidequest:unique:{queued_welcome(queued)['unique_digest']}")


def queued_welcome(queued: list[dict[str, object]]) -> dict[str, object]:
    [welcome] = [job for job in queued if job["class"] == "SendWelcomeEmailJob"]
    return welcome
