"""periodic_claim/resume/outcome.lua and the store around them, on a real redis-server."""

from __future__ import annotations

import hashlib
import time
from dataclasses import replace

import pytest
import redis

from sidequest import keys as sidekiq_keys
from sidequest import payload, scripts
from sidequest.periodic_jobs import keys, payloads
from sidequest.periodic_jobs import scripts as periodic_scripts
from sidequest.periodic_jobs.schedule import Schedule, parse
from sidequest.periodic_jobs.store import ClaimRequest, PeriodicStore
from tests.integration.sidequest.periodic_jobs.conftest import pushed

NOW = 1_700_000_000.25


def schedule(name: str = "report", **settings: object) -> Schedule:
    base: dict[str, object] = {"class": "ReportJob", "args": [7]}
    if "cron" not in settings:
        base["every"] = 60
    return parse(name, {**base, **settings}).resolved(queue="default", retry=True)


def request(store: PeriodicStore, name: str, expected: str, ticks: list[int]) -> ClaimRequest:
    definition = store.definitions()[name]
    jobs = [payloads.build(definition.schedule, tick, NOW) for tick in ticks]
    return ClaimRequest(
        definition=definition,
        expected=expected,
        settle_to=max(ticks) if ticks else int(NOW),
        jobs=[
            (tick, str(job["jid"]), payload.encode(job))
            for tick, job in zip(ticks, jobs, strict=True)
        ],
        enqueued_at=NOW,
    )


class TestScriptHeaders:
    def test_every_periodic_script_documents_keys_argv_and_returns(self) -> None:
        for script in periodic_scripts.ALL:
            header = script.source.split("\n\n", 1)[0]
            for word in ("KEYS[1]", "ARGV[1", "Returns"):
                assert word in header, f"{script.name}.lua header lacks {word}"

    def test_they_load_by_the_sha1_of_their_source(self, client: redis.Redis) -> None:
        for script in periodic_scripts.ALL:
            assert client.script_load(script.source) == script.sha


class TestPublish:
    def test_a_new_schedule_starts_at_the_time_it_is_published(
        self, store: PeriodicStore, client: redis.Redis
    ) -> None:
        published = store.publish([schedule()], NOW)
        assert published.added == ("report",)
        assert client.hget(keys.state("report"), "watermark") == str(int(NOW)).encode()
        definition = store.definitions()["report"]
        assert definition.schedule == schedule()
        raw = client.hget(keys.SCHEDULES, "report")
        assert definition.sha == hashlib.sha1(raw).hexdigest()

    def test_publishing_the_same_schedules_again_changes_nothing(
        self, store: PeriodicStore, client: redis.Redis
    ) -> None:
        store.publish([schedule()], NOW)
        client.hset(keys.state("report"), "watermark", "1700000060")
        published = store.publish([schedule()], NOW + 3600)
        assert published.added == published.changed == published.removed == ()
        assert client.hget(keys.state("report"), "watermark") == b"1700000060"

    def test_a_change_of_timing_restarts_the_schedule_and_other_changes_do_not(
        self, store: PeriodicStore, client: redis.Redis
    ) -> None:
        store.publish([schedule(), schedule("other")], NOW)
        client.hset(keys.state("report"), "watermark", "1700000060")
        client.hset(keys.state("other"), "watermark", "1700000060")
        published = store.publish([schedule(every=30), schedule("other", args=[8])], NOW + 600)
        assert set(published.changed) == {"report", "other"}
        assert client.hget(keys.state("report"), "watermark") == str(int(NOW + 600)).encode()
        assert client.hget(keys.state("other"), "watermark") == b"1700000060"
        assert store.definitions()["other"].schedule.args == (8,)

    def test_a_removed_schedule_stops_and_its_state_expires(
        self, store: PeriodicStore, client: redis.Redis
    ) -> None:
        store.publish([schedule(), schedule("gone")], NOW)
        published = store.publish([schedule()], NOW)
        assert published.removed == ("gone",)
        assert set(store.definitions()) == {"report"}
        ttl = client.ttl(keys.state("gone"))
        assert keys.REMOVED_STATE_TTL_SECONDS - 10 < ttl <= keys.REMOVED_STATE_TTL_SECONDS
        store.publish([schedule(), schedule("gone")], NOW)
        assert client.ttl(keys.state("gone")) == -1

    def test_a_watermark_never_moves_back_on_publish(
        self, store: PeriodicStore, client: redis.Redis
    ) -> None:
        store.publish([schedule()], NOW)
        client.hset(keys.state("report"), "watermark", str(int(NOW) + 120))
        store.publish([schedule(every=30)], NOW)
        assert client.hget(keys.state("report"), "watermark") == str(int(NOW) + 120).encode()

    def test_a_definition_that_does_not_parse_is_left_out(
        self, store: PeriodicStore, client: redis.Redis
    ) -> None:
        store.publish([schedule()], NOW)
        client.hset(keys.SCHEDULES, "broken", '{"name": "broken", "every": 0}')
        assert set(store.definitions()) == {"report"}
        assert store.run_now("broken", NOW) is None
        assert not pushed(client)

    def test_a_watermark_that_is_no_number_still_lists(
        self, store: PeriodicStore, client: redis.Redis
    ) -> None:
        store.publish([schedule()], NOW)
        client.hset(keys.state("report"), "watermark", "soon")
        assert store.statuses(NOW)[0].next_tick == 1_700_000_040


class TestClaim:
    def test_a_claim_pushes_the_jobs_oldest_first_and_settles_the_ticks(
        self, store: PeriodicStore, client: redis.Redis
    ) -> None:
        store.publish([schedule()], NOW)
        ticks = [1_700_000_040, 1_700_000_100]
        (reply,) = store.claim([request(store, "report", "1700000000", ticks)])
        assert (reply.status, reply.watermark) == ("claimed", "1700000100")
        jobs = pushed(client)
        assert [job["periodic_at"] for job in jobs] == ticks
        assert client.smembers(sidekiq_keys.QUEUES) == {b"default"}
        state = client.hgetall(keys.state("report"))
        assert state[b"watermark"] == b"1700000100"
        assert state[b"tick"] == b"1700000100"
        assert state[b"jid"].decode() == jobs[-1]["jid"]
        assert float(state[b"enqueued_at"]) == NOW

    def test_a_claim_counts_the_missed_and_dropped_ticks_it_settles_and_only_it(
        self, store: PeriodicStore, client: redis.Redis
    ) -> None:
        store.publish([schedule()], NOW)
        missed = replace(
            request(store, "report", "1700000000", [1_700_000_100]), missed=2, dropped=1
        )
        again = replace(missed, settle_to=1_700_000_160)
        (claimed, moved) = store.claim([missed, again])
        assert (claimed.status, moved.status) == ("claimed", "moved")
        (status,) = store.statuses(NOW)
        assert (status.missed, status.dropped) == (2, 1)
        store.pause("report")
        paused = replace(request(store, "report", "1700000100", [1_700_000_160]), missed=5)
        assert store.claim([paused])[0].status == "paused"
        assert store.statuses(NOW)[0].missed == 2

    def test_a_claim_made_twice_by_two_processes_or_a_retried_call_pushes_once(
        self, store: PeriodicStore, client: redis.Redis
    ) -> None:
        store.publish([schedule()], NOW)
        first = request(store, "report", "1700000000", [1_700_000_040])
        second = request(store, "report", "1700000000", [1_700_000_040])
        replies = store.claim([first, second])
        assert [(r.status, r.watermark) for r in replies] == [
            ("claimed", "1700000040"),
            ("moved", "1700000040"),
        ]
        assert len(pushed(client)) == 1

    def test_a_claim_never_moves_the_watermark_back(
        self, store: PeriodicStore, client: redis.Redis
    ) -> None:
        store.publish([schedule()], NOW)
        stale = request(store, "report", "1700000000", [1_699_999_980])
        (reply,) = store.claim([stale])
        assert (reply.status, reply.watermark) == ("moved", "1700000000")
        assert pushed(client) == []

    def test_a_claim_from_a_changed_or_removed_definition_is_stale(
        self, store: PeriodicStore, client: redis.Redis
    ) -> None:
        store.publish([schedule()], NOW)
        old = request(store, "report", "1700000000", [1_700_000_040])
        store.publish([schedule(args=[8])], NOW)
        assert store.claim([old])[0].status == "stale"
        store.publish([], NOW)
        assert store.claim([old])[0].status == "stale"
        assert pushed(client) == []

    def test_a_paused_schedule_settles_its_ticks_and_pushes_nothing(
        self, store: PeriodicStore, client: redis.Redis
    ) -> None:
        store.publish([schedule()], NOW)
        assert store.pause("report")
        (reply,) = store.claim([request(store, "report", "1700000000", [1_700_000_040])])
        assert (reply.status, reply.watermark) == ("paused", "1700000040")
        assert pushed(client) == []

    def test_a_claim_after_a_script_flush_loads_the_script(
        self, store: PeriodicStore, client: redis.Redis
    ) -> None:
        store.publish([schedule()], NOW)
        client.script_flush()
        (reply,) = store.claim([request(store, "report", "1700000000", [1_700_000_040])])
        assert reply.status == "claimed"
        assert len(pushed(client)) == 1

    def test_a_push_that_fails_settles_no_tick(
        self, store: PeriodicStore, client: redis.Redis
    ) -> None:
        store.publish([schedule()], NOW)
        client.set(sidekiq_keys.queue("default"), "not a list")
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            store.claim([request(store, "report", "1700000000", [1_700_000_040])])
        assert client.hget(keys.state("report"), "watermark") == b"1700000000"

    def test_queue_names_the_list_and_the_queues_set(
        self, store: PeriodicStore, client: redis.Redis
    ) -> None:
        store.publish([schedule(queue="reports")], NOW)
        store.claim([request(store, "report", "1700000000", [1_700_000_040])])
        assert client.smembers(sidekiq_keys.QUEUES) == {b"reports"}
        assert pushed(client, "reports")[0]["queue"] == "reports"


class TestOperations:
    def test_pause_and_resume(self, store: PeriodicStore, client: redis.Redis) -> None:
        store.publish([schedule()], NOW)
        assert not store.pause("unknown")
        assert store.pause("report")
        assert store.statuses(NOW)[0].paused
        assert store.resume("report", NOW + 3600.5)
        assert not store.resume("report", NOW + 7200)
        assert not store.statuses(NOW)[0].paused
        # Ticks passed while paused are settled: the next one runs, none before it.
        assert client.hget(keys.state("report"), "watermark") == str(int(NOW) + 3600).encode()

    def test_run_now_pushes_outside_the_schedule_and_leaves_the_ticks_alone(
        self, store: PeriodicStore, client: redis.Redis
    ) -> None:
        store.publish([schedule(queue="reports")], NOW)
        assert store.run_now("unknown", NOW) is None
        jid = store.run_now("report", NOW + 5)
        (job,) = pushed(client, "reports")
        assert (job["jid"], job["periodic_at"], job["periodic_manual"]) == (jid, int(NOW) + 5, True)
        assert client.hget(keys.state("report"), "watermark") == str(int(NOW)).encode()
        status = store.statuses(NOW)[0]
        assert (status.run_jid, status.run_at, status.tick) == (jid, NOW + 5, None)

    def test_an_outcome_is_kept_only_for_the_latest_job(
        self, store: PeriodicStore, client: redis.Redis
    ) -> None:
        store.publish([schedule()], NOW)
        store.claim([request(store, "report", "1700000000", [1_700_000_040])])
        older = str(pushed(client)[0]["jid"])
        store.claim([request(store, "report", "1700000040", [1_700_000_100])])
        newer = str(pushed(client)[1]["jid"])
        assert not store.record_outcome("report", older, "failed", NOW)
        assert store.record_outcome("report", newer, "done", NOW + 1)
        manual = store.run_now("report", NOW)
        assert manual is not None and store.record_outcome("report", manual, "failed", NOW)
        status = store.statuses(NOW)[0]
        assert (status.jid, status.outcome, status.run_outcome) == (newer, "done", "failed")
        # A new tick's job clears the previous outcome.
        store.claim([request(store, "report", "1700000100", [1_700_000_160])])
        assert store.statuses(NOW)[0].outcome is None

    def test_statuses_list_every_schedule_with_its_next_tick(self, store: PeriodicStore) -> None:
        store.publish([schedule("b", every=60), schedule("a", cron="30 2 * * *")], NOW)
        store.pause("b")
        first, second = store.statuses(NOW)
        assert (first.schedule.name, second.schedule.name) == ("a", "b")
        assert first.next_tick == 1_700_015_400  # 2023-11-15 02:30 UTC
        assert second.next_tick == 1_700_000_040  # the next multiple of 60 s
        assert (first.paused, second.paused) == (False, True)

    def test_outcome_of_a_schedule_that_is_gone_writes_nothing(
        self, store: PeriodicStore, client: redis.Redis
    ) -> None:
        assert not store.record_outcome("gone", "a" * 24, "done", time.time())
        assert not client.exists(keys.state("gone"))


@pytest.mark.parametrize("script", periodic_scripts.ALL, ids=lambda s: s.name)
def test_each_script_is_called_through_the_shared_wrapper(script: scripts.Script) -> None:
    assert isinstance(script, scripts.Script)
