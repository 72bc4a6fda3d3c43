"""The application's flows through the web container, seen in the mail catcher.

Reports (request, build, mail) are tests/stack/test_reports_and_mail.py, which runs
against this same Compose stack; signups are here.
"""

from __future__ import annotations

from collections import Counter

from tests.compose.observe import all_job_runs
from tests.stack.stack import Stack, unique_address
from tests.support.polling import wait_for

ADMIN = "admin@example.test"  # ADMIN_EMAIL's default in docker-compose.yml


def test_a_signup_through_the_web_container_mails_the_user_and_the_admin(stack: Stack) -> None:
    address = unique_address("signup")
    answer = stack.shop.request("POST", "/api/signups", {"email": address, "name": "Ada"})
    assert answer.status == 202, answer.body
    jobs = answer.json()["jobs"]
    assert set(jobs) == {"welcome_email", "default_preferences", "admin_notification"}

    (welcome,) = stack.mail.wait_for_mail_to(address, 1, timeout=60)
    assert welcome.subject == "Welcome to the Sidequest demo shop"
    assert "Welcome, Ada!" in stack.mail.message(welcome.id).get_body(("plain",)).get_content()

    def admin_notice() -> bool:
        return any(address in mail.subject for mail in stack.mail.to(ADMIN))

    wait_for(admin_notice, timeout=60, interval=0.2, message="the admin's notice")
    # Every job of the workflow ran once, in a worker container (its JSON log says so).
    assert stack.compose is not None
    workers = stack.compose.containers("worker")

    def finished() -> Counter[str]:
        counts: Counter[str] = Counter()
        for runs in all_job_runs(workers).values():
            counts.update({jid: runs.finished[jid] for jid in jobs.values()})
        return counts

    counts = wait_for(
        lambda: (found := finished()) and all(found[jid] for jid in jobs.values()) and found,
        timeout=30,
        interval=0.2,
        message="the workflow's finish lines in the workers' logs",
    )
    assert [counts[jid] for jid in jobs.values()] == [1, 1, 1]
