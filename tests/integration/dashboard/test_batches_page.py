"""The Batches pages: the listing with progress bars, and one batch's members and
callbacks, read from a real Redis."""

from __future__ import annotations

import redis

from sidequest.batches import Batch
from tests.integration.dashboard.conftest import Browser
from tests.integration.sidequest.batches.batch_jobs import CallbackJob, MemberJob


def test_the_listing_and_one_batch(browser: Browser, db: redis.Redis) -> None:
    parent = Batch("Monthly statements", on_success=(CallbackJob, ["mailed"]), client=db)
    with parent:
        MemberJob.perform_later(1)
        with Batch("per region", client=db) as child:
            MemberJob.perform_later(2)
    with Batch("nothing to do", client=db):
        pass

    page = browser.get("/batches").get_data(as_text=True)
    assert '<a href="/sidequest/batches" class="current" aria-current="page">Batches</a>' in page
    assert '<h1>Batches <span class="count">3</span></h1>' in page
    for text in ("Monthly statements", "per region", "nothing to do", 'class="bar"'):
        assert text in page
    assert f'href="/sidequest/batches/{parent.bid}"' in page

    one = browser.get(f"/batches/{parent.bid}")
    assert one.status_code == 200
    shown = one.get_data(as_text=True)
    assert "on_success" in shown and "CallbackJob" in shown and "not fired" in shown
    assert f'href="/sidequest/batches/{child.bid}"' in shown  # the child is a member
    assert "total 2 · pending 2" in shown

    assert browser.get("/batches/" + "0" * 24).status_code == 404
    assert browser.get("/batches/not-a-bid").status_code == 404


def test_no_batches(browser: Browser) -> None:
    assert "No batches." in browser.get("/batches").get_data(as_text=True)
