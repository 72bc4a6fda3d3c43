"""Retries, Scheduled and Dead: paged and filterable lists, entry pages, and actions on
one entry, on the selected entries or on all of them.

The three sets share every route; a SetKind says what differs (title, time column,
order, and which actions make sense: a scheduled job can be enqueued now but not
"retried", a dead job cannot be killed again).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import redis
from flask import Blueprint, render_template, request
from werkzeug.exceptions import BadRequest, NotFound
from werkzeug.wrappers import Response

from sidequest.api import (
    DeadSet,
    EntryId,
    RetrySet,
    ScheduledSet,
    SortedEntry,
    SortedSet,
    search_sorted_set,
)
from sidequest.dashboard import config, params, state
from sidequest.dashboard.views.common import back_to, client, form_value, notice, pager, plural

_BATCH = 500


@dataclass(frozen=True)
class SetKind:
    slug: str
    title: str
    when_label: str
    newest_first: bool
    actions: tuple[str, ...]
    open: Callable[[redis.Redis], SortedSet]


KINDS = {
    kind.slug: kind
    for kind in (
        SetKind("retries", "Retries", "Next retry", False, ("retry", "delete", "kill"), RetrySet),
        SetKind("scheduled", "Scheduled", "Due", False, ("enqueue", "delete"), ScheduledSet),
        SetKind("dead", "Dead", "Died", True, ("retry", "delete"), DeadSet),
    )
}
ACTION_LABELS = {
    "retry": "Retry now",
    "enqueue": "Enqueue now",
    "delete": "Delete",
    "kill": "Kill",
}
ACTION_PAST = {"retry": "Retried", "enqueue": "Enqueued", "delete": "Deleted", "kill": "Killed"}


def register(blueprint: Blueprint) -> None:
    for slug in KINDS:
        blueprint.add_url_rule(f"/{slug}", f"{slug}", _listing, defaults={"slug": slug})
        blueprint.add_url_rule(
            f"/{slug}/entry/<entry>", f"{slug}_entry", _entry, defaults={"slug": slug}
        )
        blueprint.add_url_rule(
            f"/{slug}/selected",
            f"{slug}_selected",
            _act_on_selected,
            methods=["POST"],
            defaults={"slug": slug},
        )
        blueprint.add_url_rule(
            f"/{slug}/all", f"{slug}_all", _act_on_all, methods=["POST"], defaults={"slug": slug}
        )


def _listing(slug: str) -> str:
    kind = KINDS[slug]
    sorted_set = kind.open(client())
    needle = params.filter_text(request.args)
    size = sorted_set.size()
    scan = None
    if needle:
        scan = search_sorted_set(
            client(),
            sorted_set.name,
            needle,
            limit=config.FILTER_MATCH_LIMIT,
            max_scanned=state.current().config.filter_scan_limit,
            newest_first=kind.newest_first,
        )
        page = pager(len(scan.matches))
        entries = scan.matches[page.start : page.start + page.size]
    else:
        page = pager(size)
        entries = sorted_set.page(page.start, page.size, newest_first=kind.newest_first)
    return render_template(
        "sidequest_dashboard/sorted_set.html",
        section=slug,
        kind=kind,
        size=size,
        entries=entries,
        pager=page,
        filter=needle,
        scan=scan,
        action_labels=ACTION_LABELS,
    )


def _entry(slug: str, entry: str) -> str:
    kind = KINDS[slug]
    found = kind.open(client()).fetch(_entry_id(entry))
    if found is None:
        raise NotFound(f"{kind.title} has no entry {entry!r}; it may have moved already.")
    return render_template(
        "sidequest_dashboard/entry.html",
        section=slug,
        kind=kind,
        entry=found,
        action_labels=ACTION_LABELS,
    )


def _act_on_selected(slug: str) -> Response:
    kind = KINDS[slug]
    action = _action(kind)
    ids = request.form.getlist("id")
    if not ids:
        raise BadRequest("Select at least one entry.")
    if len(ids) > params.MAX_SELECTED:
        raise BadRequest(f"Select at most {params.MAX_SELECTED} entries at once.")
    sorted_set = kind.open(client())
    done = gone = 0
    for raw_id in ids:
        found = sorted_set.fetch(_entry_id(raw_id))
        if found is not None and _apply(sorted_set, action, found):
            done += 1
        else:
            gone += 1
    message = f"{ACTION_PAST[action]} {plural(done, 'job')}."
    if gone:
        message += f" {plural(gone, 'entry', 'entries')} had already moved."
    notice(message)
    return back_to(slug)


def _act_on_all(slug: str) -> Response:
    """Act on every entry; moves are bounded per request (SIDEQUEST_WEB_BULK_LIMIT)."""
    kind = KINDS[slug]
    action = _action(kind)
    sorted_set = kind.open(client())
    if action == "delete":
        notice(f"Deleted {plural(sorted_set.clear(), 'job')}.")
        return back_to(slug)
    limit = state.current().config.bulk_limit
    done = skipped = 0
    while done + skipped < limit:
        chunk = sorted_set.page(skipped, min(_BATCH, limit - done - skipped))
        if not chunk:
            break
        for entry in chunk:
            if _apply(sorted_set, action, entry):
                done += 1
            else:
                skipped += 1  # raced or malformed: leave it and look past it
    remaining = sorted_set.size()
    message = f"{ACTION_PAST[action]} {plural(done, 'job')}."
    if remaining and done + skipped >= limit:
        message += f" {remaining:,} remain: press again to continue."
    notice(message)
    return back_to(slug)


def _apply(sorted_set: SortedSet, action: str, entry: SortedEntry) -> bool:
    if action == "delete":
        return sorted_set.delete(entry)
    if action == "kill":
        return sorted_set.kill(entry)
    return sorted_set.enqueue_now(entry, count_as_manual_retry=action == "retry")


def _action(kind: SetKind) -> str:
    action = form_value("action", 20)
    if action not in kind.actions:
        raise BadRequest(f"{kind.title} entries allow: {', '.join(kind.actions)}.")
    return action


def _entry_id(value: str) -> EntryId:
    if len(value) > 200:
        raise BadRequest("Entry ids are at most 200 characters.")
    try:
        return EntryId.parse(value)
    except ValueError as error:
        raise BadRequest(str(error)) from None
