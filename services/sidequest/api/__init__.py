"""The read and admin API over Redis, as Sidekiq's `Sidekiq::Stats`, `Queue`,
`ScheduledSet`, `RetrySet`, `DeadSet` and `ProcessSet`.

It works from raw payloads and never imports job classes, so the dashboard, the CLI
and tests can inspect a Redis that Ruby or Python processes write to.

    client = sidequest.connection.connect(url)
    Stats(client).snapshot().processed
    RetrySet(client).page(0, 25)
    QueuePauses(client).pause("low")            # flow control: api/pausing.py
    cancel(client, jid)                          # api/cancelling.py
"""

from sidequest.api.cancelling import CancelResult, cancel
from sidequest.api.flow_state import FlowState
from sidequest.api.limits import Limits, LimitState
from sidequest.api.metrics import ClassMetrics, JobMetrics
from sidequest.api.pausing import QueuePauses
from sidequest.api.processes import Process, ProcessSet, Work
from sidequest.api.progress import Progress, progress, progresses
from sidequest.api.queue_summary import QueueSummary, queue_summaries
from sidequest.api.queues import Queue
from sidequest.api.records import EntryId, JobRecord, SortedEntry
from sidequest.api.search import SearchResult, find_in_queue, search_queue, search_sorted_set
from sidequest.api.sorted_sets import DeadSet, RetrySet, ScheduledSet, SortedSet
from sidequest.api.stats import Stats, StatsSnapshot

__all__ = [
    "CancelResult",
    "ClassMetrics",
    "DeadSet",
    "EntryId",
    "FlowState",
    "JobMetrics",
    "JobRecord",
    "LimitState",
    "Limits",
    "Process",
    "ProcessSet",
    "Progress",
    "Queue",
    "QueuePauses",
    "QueueSummary",
    "RetrySet",
    "ScheduledSet",
    "SearchResult",
    "SortedEntry",
    "SortedSet",
    "Stats",
    "StatsSnapshot",
    "Work",
    "cancel",
    "find_in_queue",
    "progress",
    "progresses",
    "queue_summaries",
    "search_queue",
    "search_sorted_set",
]
