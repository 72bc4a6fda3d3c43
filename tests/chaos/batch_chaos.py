"""The chaos run with batches: the jobs of the chaos run, grouped into batches.

    report = BatchChaosRun(config, directory, batches=1000, sizes=(1, 4)).run()

The jobs, the workers and the faults are the chaos run's (harness.py, plan.py); the
planned jobs (5% failing once, 1% dying, 5% scheduled) are dealt into `batches` batches
of `sizes` jobs each, every batch with on_complete, on_success and on_death callbacks.
On top of the chaos run's verdict, afterwards:

- each callback was pushed exactly once, read from the job Redis's AOF (the LPUSH of
  its payload by the script that settled the batch; a recovered callback job pushed
  back by recovery carries `recoveries` and is not a push of the callback):
  on_complete for every batch, on_success for every batch without a dying job and for
  no other, on_death once for every batch with one;
- every callback pushed ran (the witness saw it);
- no batch is left pending, and each one's counters are right: total = its jobs,
  succeeded = those not dying, dead = the dying ones, failed (retrying) = 0.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sidequest import keys
from sidequest.batches import Batch, BatchStore
from tests.chaos import aof, ledger, plan
from tests.chaos.analysis import Job
from tests.chaos.batch_chaos_jobs import CALLBACKS, BatchCallbackJob
from tests.chaos.config import ChaosConfig
from tests.chaos.harness import ChaosRun

EVENTS = ("complete", "success", "death")


@dataclass
class PlannedBatch:
    bid: str
    jids: list[str]
    doomed: int


class BatchChaosRun(ChaosRun):
    REQUIRES = (*ChaosRun.REQUIRES, "tests.chaos.batch_chaos_jobs")

    def __init__(self, config: ChaosConfig, directory: Path, batches: int, sizes: tuple[int, int]):
        super().__init__(config, directory)
        self.batch_count = batches
        self.sizes = sizes
        self.batches: list[PlannedBatch] = []
        self.callback_pushes: Counter[tuple[str, str]] = Counter()

    def _push(self, planned: list[plan.PlannedJob]) -> list[Job]:
        """Deal the planned jobs into batches, each pushed by its `with` block."""
        rng = random.Random(f"batches-{self.config.seed}")
        queue = list(planned)
        jobs: list[Job] = []
        for _ in range(self.batch_count):
            size = min(len(queue), rng.randint(*self.sizes))
            members, queue = queue[:size], queue[size:]
            batch = Batch(
                on_complete=(BatchCallbackJob, ["complete"]),
                on_success=(BatchCallbackJob, ["success"]),
                on_death=(BatchCallbackJob, ["death"]),
            )
            with batch:
                pushed = super()._push(members)
            jobs += pushed
            doomed = sum(1 for job in pushed if job.kind == "doomed")
            self.batches.append(PlannedBatch(batch.bid, [job.jid for job in pushed], doomed))
        if queue:
            jobs += super()._push(queue)  # more jobs planned than the batches hold
        return jobs

    def _check_redis(self) -> None:
        super()._check_redis()
        self._count_callback_pushes()
        self._check_callbacks_ran()
        self._check_batches()

    def _count_callback_pushes(self) -> None:
        data = b"".join(
            path.read_bytes() for path in aof.incremental_files(self.job_redis.directory)
        )
        for _, _, args in ledger.commands(data):
            if args[0].upper() != b"LPUSH" or not args[1].startswith(keys.QUEUE_PREFIX.encode()):
                continue
            for value in args[2:]:
                if b'"batch_callback"' not in value or b'"recoveries"' in value:
                    continue
                callback = json.loads(value)["batch_callback"]
                self.callback_pushes[(callback["bid"], callback["event"])] += 1

    def _check_callbacks_ran(self) -> None:
        ran = {
            tuple(line.split()[:2])
            for line in (entry.decode() for entry in self.witness_client.lrange(CALLBACKS, 0, -1))
        }
        never = [pushed for pushed in self.callback_pushes if (pushed[1], pushed[0]) not in ran]
        if never:
            self.problems.append(f"{len(never)} callbacks pushed but never ran, e.g. {never[:5]}")

    def _check_batches(self) -> None:
        store = BatchStore(self.client)
        wrong: list[str] = []
        for batch in self.batches:
            expected = {
                "complete": 1,
                "success": 0 if batch.doomed else 1,
                "death": 1 if batch.doomed else 0,
            }
            for event in EVENTS:
                pushed = self.callback_pushes[(batch.bid, event)]
                if pushed != expected[event]:
                    wrong.append(
                        f"{batch.bid} on_{event} pushed {pushed} times, not {expected[event]}"
                    )
            status = store.status(batch.bid)
            if status is None:
                wrong.append(f"{batch.bid} is missing")
                continue
            counts = (status.total, status.pending, status.succeeded, status.failed, status.dead)
            right = (len(batch.jids), 0, len(batch.jids) - batch.doomed, 0, batch.doomed)
            if counts != right or not status.complete:
                wrong.append(
                    f"{batch.bid}: total, pending, succeeded, failed, dead = {counts}, "
                    f"not {right} (complete: {status.complete})"
                )
        self.problems += wrong[:20]
        if len(wrong) > 20:
            self.problems.append(f"... and {len(wrong) - 20} more batch problems")

    def _figures(self, verdict: object, elapsed: float) -> dict[str, object]:
        figures = super()._figures(verdict, elapsed)  # type: ignore[arg-type]
        pushed = Counter(event for _, event in self.callback_pushes.elements())
        figures["batches"] = len(self.batches)
        figures["batches with a death"] = sum(1 for batch in self.batches if batch.doomed)
        figures["callbacks pushed"] = dict(sorted(pushed.items()))
        return figures
