"""sidequest.limits (the decorators and key functions) and what the worker's LimitGate
asks Redis for, with a fake gateway: which keys a job's arguments give, which classes
cost nothing, and a key function that raises."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta

import pytest

from sidequest import Job, limits_concurrency, limits_rate, payload
from sidequest.config import Settings
from sidequest.errors import ConfigError
from sidequest.limits import ConcurrencyLimit, RateLimit, limits_of
from sidequest.limits.declared import apply, parse_section, template_key
from sidequest.middleware import MiddlewareChain
from sidequest.runtime.executor import Executor, TimedRun
from sidequest.runtime.fetched import Fetched
from sidequest.runtime.limits import Left, LimitGate
from sidequest.runtime.outcome import Ack, Failure
from sidequest.runtime.store.limits import Acquired, Admission, Bound, LimitStore, Verdict
from sidequest.runtime.watchdog import Guard, Watchdog
from tests.support.polling import wait_for


@limits_concurrency(to=3, key=lambda account_id: f"stripe:{account_id}", duration=60)
@limits_rate(100, per=timedelta(seconds=1), key=lambda account_id: f"stripe:{account_id}")
class LimitedChargeJob(Job):
    def perform(self, account_id: int) -> None:
        pass


@limits_concurrency(to=1)
class LimitedPerClassJob(Job):
    def perform(self) -> None:
        pass


class LimitedChildJob(LimitedPerClassJob):
    pass


@limits_concurrency(to=2, key=lambda n: 1 / n)
class LimitedBrokenKeyJob(Job):
    def perform(self, n: int) -> None:
        pass


class UnlimitedJob(Job):
    def perform(self) -> None:
        pass


class FakeStore(LimitStore):
    """Answers every admission with `verdict`; records what was asked."""

    def __init__(self, verdict: Verdict = Verdict.ADMITTED):
        self.verdict = verdict
        self.admissions: list[Admission] = []
        self.releases: list[tuple[str, Bound]] = []

    def exchange(
        self, releases: Sequence[tuple[str, Bound]], admissions: Sequence[Admission]
    ) -> list[Acquired]:
        self.releases += releases
        self.admissions += admissions
        return [Acquired(self.verdict, 1.0) for _ in admissions]

    def refresh(self, holdings: Sequence[tuple[str, Bound]]) -> None:
        pass

    def sweep(self) -> int:
        return 0


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def gate(store: FakeStore) -> Iterator[LimitGate]:
    limits = LimitGate(store, "host:1:abc", 60.0)
    limits.start()
    yield limits
    limits.stop()


def executor_with(gate: LimitGate) -> Executor:
    def abandon(guard: Guard[TimedRun]) -> None:
        raise AssertionError("nothing here is abandoned")

    return Executor(Settings(), MiddlewareChain(), Watchdog(5.0, abandon), limits=gate)


def fetched(job_class: type[Job], *args: object) -> Fetched:
    raw = payload.encode(payload.build(job_class.job_name, list(args), jid="a" * 24))
    return Fetched("7:default", "default", raw.encode())


def test_decorators_stack_and_subclasses_inherit_without_changing_their_bases() -> None:
    concurrency, rate = limits_of(LimitedChargeJob)[1], limits_of(LimitedChargeJob)[0]
    assert isinstance(concurrency, ConcurrencyLimit) and concurrency.to == 3
    assert concurrency.duration == 60.0
    assert isinstance(rate, RateLimit) and (rate.limit, rate.per) == (100, 1.0)
    assert limits_of(LimitedChildJob) == limits_of(LimitedPerClassJob)
    assert limits_of(UnlimitedJob) == ()


@pytest.mark.parametrize(
    "call",
    [
        lambda: limits_concurrency(to=0),
        lambda: limits_concurrency(to=True),
        lambda: limits_concurrency(to=2, duration=0),
        lambda: limits_rate(0, per=1),
        lambda: limits_rate(5, per=timedelta(0)),
    ],
)
def test_limits_that_could_never_admit_are_refused_at_declaration(call: object) -> None:
    with pytest.raises(ValueError):
        call()  # type: ignore[operator]


def test_keys_come_from_the_jobs_arguments_and_slots_go_back_after_perform(
    gate: LimitGate, store: FakeStore
) -> None:
    outcome = executor_with(gate).execute(fetched(LimitedChargeJob, 42))
    assert isinstance(outcome, Ack)
    [admission] = store.admissions
    assert admission.field == "7:default" and admission.holder.startswith("host:1:abc|")
    assert [(b.kind, b.key, b.amount) for b in admission.bounds] == [
        ("rate", "stripe:42", 100),
        ("concurrency", "stripe:42", 3),
    ]
    # The concurrency slot is given back (the rate limit's start stays in its window),
    # by the limits thread, at once.
    wait_for(lambda: store.releases, timeout=5, message="the release")
    assert [(holder, bound.kind) for holder, bound in store.releases] == [
        (admission.holder, "concurrency")
    ]


def test_without_a_key_function_the_limit_is_per_class(gate: LimitGate, store: FakeStore) -> None:
    executor_with(gate).execute(fetched(LimitedChildJob))
    assert [bound.key for bound in store.admissions[0].bounds] == ["LimitedChildJob"]


def test_a_class_without_limits_asks_redis_nothing(gate: LimitGate, store: FakeStore) -> None:
    assert isinstance(executor_with(gate).execute(fetched(UnlimitedJob)), Ack)
    assert store.admissions == [] and store.releases == []


def test_a_refused_job_leaves_without_running_or_failing() -> None:
    store = FakeStore(Verdict.PARKED)
    limits = LimitGate(store, "host:1:abc", 60.0)
    limits.start()
    try:
        outcome = executor_with(limits).execute(fetched(LimitedChargeJob, 42))
    finally:
        limits.stop()
    assert isinstance(outcome, Left) and outcome.verdict is Verdict.PARKED
    assert store.releases == []


def test_a_key_function_that_raises_fails_the_job_by_its_retry_policy(
    gate: LimitGate, store: FakeStore
) -> None:
    outcome = executor_with(gate).execute(fetched(LimitedBrokenKeyJob, 0))
    assert isinstance(outcome, Failure) and outcome.mode == "retry"
    assert "ZeroDivisionError" in payload.decode(outcome.payload.encode())["error_message"]
    assert store.admissions == []


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ({"ChargeJob": {"speed": {}}}, "unknown kind"),
        ({"ChargeJob": {"concurrency": {"to": 0}}}, "positive"),
        ({"ChargeJob": {"rate": {"limit": 5}}}, "per"),
        ({"ChargeJob": {"rate": {"limit": 5, "per": 1, "window": 2}}}, "unknown setting"),
        ({"ChargeJob": {"concurrency": {"to": 2, "key": "acct:{"}}}, "format string"),
        (["ChargeJob"], "must map"),
    ],
)
def test_a_bad_limits_section_names_the_class_and_the_setting(
    section: object, problem: str
) -> None:
    with pytest.raises(ConfigError, match=problem):
        parse_section(section)


def test_a_config_key_formats_the_arguments_by_position_or_name() -> None:
    class ConfigKeyJob(Job):
        def perform(self, account_id: int, currency: str = "eur") -> None:
            pass

    assert template_key("{0}:{currency}", ConfigKeyJob)(7) == "7:eur"
    assert template_key("acct:{account_id}", ConfigKeyJob)(account_id=9) == "acct:9"
    declared = parse_section(
        {
            ":ConfigKeyJob": {
                ":concurrency": {"to": 2, "key": "a:{account_id}"},
                "rate": {"limit": 3, "per": 0.5},
            }
        }
    )
    apply(declared, {"ConfigKeyJob": ConfigKeyJob}.get)
    concurrency, rate = limits_of(ConfigKeyJob)
    assert isinstance(concurrency, ConcurrencyLimit) and concurrency.to == 2
    assert concurrency.key_for("ConfigKeyJob", [5], {}) == "a:5"
    assert isinstance(rate, RateLimit) and (rate.limit, rate.per, rate.key) == (3, 0.5, None)
    with pytest.raises(ConfigError, match="NoSuchJob"):
        apply(parse_section({"NoSuchJob": {"rate": {"limit": 1, "per": 1}}}), {}.get)


def test_a_fetched_batch_is_admitted_in_one_call_and_its_jobs_start_without_asking_again(
    gate: LimitGate, store: FakeStore
) -> None:
    limited, unlimited = fetched(LimitedPerClassJob), fetched(UnlimitedJob)
    rated = fetched(LimitedChargeJob, 1)
    assert gate.admit_batch([limited, unlimited, rated]) == [limited, unlimited, rated]
    # Only the concurrency-limited job: a rate-limited one is admitted when it starts.
    assert [admission.raw for admission in store.admissions] == [limited.raw]
    assert isinstance(executor_with(gate).execute(limited), Ack)
    assert len(store.admissions) == 1  # admitted with its batch: no second ask
    wait_for(lambda: store.releases, timeout=5, message="the release")


def test_refused_jobs_of_a_batch_are_not_dispatched_and_withdrawn_ones_give_slots_back() -> None:
    store = FakeStore(Verdict.PARKED)
    limits = LimitGate(store, "host:1:abc", 60.0)
    limits.start()
    try:
        limited, unlimited = fetched(LimitedPerClassJob), fetched(UnlimitedJob)
        assert limits.admit_batch([limited, unlimited]) == [unlimited]
        store.verdict = Verdict.ADMITTED
        admitted = fetched(LimitedChildJob)
        assert limits.admit_batch([admitted]) == [admitted]
        limits.withdraw([admitted])  # quiet: it goes back to its queue unstarted
        wait_for(lambda: store.releases, timeout=5, message="the release")
    finally:
        limits.stop()
