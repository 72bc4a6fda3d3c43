"""A signup mails the user and the admin exactly once each, even when the SMTP server
turns the first attempt away and the job has to retry."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import redis
from sqlalchemy import text

from shop.accounts import load_preferences
from shop.db import read_session
from tests.integration.end_to_end.conftest import ADMIN, Stack
from tests.support.polling import wait_for


def test_welcome_and_admin_mails_arrive_once_each_despite_a_refused_first_attempt(
    sqlite_database_url: str, make_stack: Callable[..., Stack], redis_client: redis.Redis
) -> None:
    stack = make_stack(sqlite_database_url)
    stack.smtp.fail_next("DATA", code=451, text="4.3.0 Mailbox busy, try again")
    stack.start_worker()

    answer = stack.web.request("POST", "/api/signups", {"email": "ann@example.org", "name": "Ann"})
    assert answer.status == 202
    user_id = answer.json()["user"]["id"]

    # The job that met the 451 waits in the retry set (3-3.2 s away); make it due now.
    [entry] = wait_for(lambda: redis_client.zrange("retry", 0, -1), message="the retry entry")
    retried = json.loads(entry)
    assert retried["class"] in ("SendWelcomeEmailJob", "NotifyAdminOfSignupJob")
    assert retried["error_class"] == "shop.errors.TransientMailError"
    assert redis_client.zadd("retry", {entry: time.time()}, xx=True, ch=True) == 1

    mails = stack.smtp.wait_for_messages(2, timeout=30)
    wait_for(lambda: redis_client.get("stat:processed") == "4", message="3 jobs and 1 retry")
    assert redis_client.zcard("retry") == redis_client.zcard("dead") == 0
    assert sorted(mail.recipients[0] for mail in mails) == sorted(["ann@example.org", ADMIN])
    assert len(stack.smtp.messages) == 2
    assert stack.smtp.data_attempts == 3
    assert load_preferences(stack.session_factory, user_id) is not None
    with read_session(stack.session_factory) as session:
        deliveries = session.execute(
            text("SELECT delivery_key, attempts, sent_at IS NOT NULL FROM mail_deliveries")
        ).all()
    assert sorted((key, sent) for key, _attempts, sent in deliveries) == [
        (f"admin-signup:{user_id}", True),
        (f"welcome:{user_id}", True),
    ]
    assert sorted(attempts for _key, attempts, _sent in deliveries) == [1, 2]
