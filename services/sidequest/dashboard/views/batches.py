"""Batches: the newest batches with progress bars, and one batch with its members and
callbacks. Works from the batch hashes (batches/store.py), never job classes."""

from __future__ import annotations

import re

from flask import Blueprint, render_template
from werkzeug.exceptions import NotFound

from sidequest import keys
from sidequest.batches.store import BatchStore
from sidequest.dashboard.views.common import client, pager

# Batch ids are 24 hex characters (payload.new_jid); anything else is no batch of ours.
_BID = re.compile(r"[0-9a-f]{24}")


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/batches", "batches", batches)
    blueprint.add_url_rule("/batches/<bid>", "batch", batch)


def batches() -> str:
    store = BatchStore(client())
    total = int(client().zcard(keys.BATCH_INDEX))
    page = pager(total)
    _, statuses = store.listing(page.start, page.size)
    return render_template(
        "sidequest_dashboard/batches.html", section="batches", statuses=statuses, pager=page
    )


def batch(bid: str) -> str:
    store = BatchStore(client())
    status = store.status(bid) if _BID.fullmatch(bid) else None
    if status is None:
        raise NotFound(f"No batch {bid}: it was never created, or expired after completion.")
    members = sorted(store.members(bid).items())
    return render_template(
        "sidequest_dashboard/batch.html",
        section="batches",
        status=status,
        members=members,
    )
