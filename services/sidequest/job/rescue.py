"""What happens to a job whose perform raised: retry_on, discard_on and the default
retry policy, decided as plain values. Pure: no I/O, the caller acts on the decision.

    @retry_on(TimeoutError, ConnectionError, wait="polynomially_longer", attempts=5)
    @discard_on(DeserializationError)
    class ProcessReportJob(Job): ...

Rules are checked in the order they are written (the top decorator first), then the
rules of the base classes. The first rule whose exceptions match wins. Errors that no
rule matches follow the default policy, Sidekiq's: `retry = True` allows 25 retries
spaced by `count**4 + 15` seconds plus jitter, `retry = N` allows N, `retry = 0` sends
the job straight to the dead set and `retry = False` drops it.
"""

from __future__ import annotations

import inspect
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal, TypeVar

DEFAULT_MAX_RETRIES = 25
DEFAULT_JITTER = 0.15

Wait = (
    Literal["polynomially_longer"]
    | float
    | int
    | timedelta
    | Callable[..., float | int | timedelta]
)
ExhaustedCallback = Callable[[Any, BaseException], None]
DiscardCallback = Callable[[Any, BaseException], None]
T = TypeVar("T", bound=type)

RULES_ATTRIBUTE = "_sidequest_rescue_rules"


@dataclass(frozen=True)
class RetryRule:
    exceptions: tuple[type[BaseException], ...]
    wait: Wait = 3
    attempts: int | None = 5  # None: unlimited
    queue: str | None = None
    jitter: float = DEFAULT_JITTER
    on_exhausted: ExhaustedCallback | None = None

    @property
    def key(self) -> str:
        """Name of this rule's counter in the payload's `exception_executions`."""
        return "[" + ",".join(sorted(_qualified(e) for e in self.exceptions)) + "]"


@dataclass(frozen=True)
class DiscardRule:
    exceptions: tuple[type[BaseException], ...]
    on_discard: DiscardCallback | None = None


Rule = RetryRule | DiscardRule


@dataclass(frozen=True)
class Retry:
    """Try again in `delay` seconds, on `queue` (None: the job's queue)."""

    delay: float
    retry_count: int
    queue: str | None = None
    rule_key: str | None = None
    executions: int = 0


@dataclass(frozen=True)
class Dead:
    """Out of retries (or none allowed): keep the job in the dead set."""

    reason: str
    rule_key: str | None = None
    executions: int = 0


@dataclass(frozen=True)
class Discard:
    """Drop the job, leaving no trace in the retry or dead sets; call `callback` first."""

    reason: str
    callback: Callable[[Any, BaseException], None] | None = None
    by_rule: bool = False


Decision = Retry | Dead | Discard


def retry_on(
    *exceptions: type[BaseException],
    wait: Wait = 3,
    attempts: int | Literal["unlimited"] = 5,
    queue: str | None = None,
    jitter: float = DEFAULT_JITTER,
    on_exhausted: ExhaustedCallback | None = None,
) -> Callable[[T], T]:
    """Class decorator: retry the job when perform raises one of `exceptions`.

    Args:
        wait: "polynomially_longer" (executions**4 + 2 s, plus jitter, as ActiveJob),
            seconds or a timedelta, or a callable taking the execution count (and
            optionally the error) and returning seconds.
        attempts: executions allowed for these errors, the first one included, or
            "unlimited".
        queue: queue the retries run on.
        jitter: fraction of the delay added at random, so retries do not stampede.
        on_exhausted: called with (job, error) when attempts run out; the job then ends
            there. Without it, an exhausted job goes to the dead set.
    """
    if not exceptions:
        raise TypeError("retry_on needs at least one exception class")
    rule = RetryRule(
        exceptions=exceptions,
        wait=wait,
        attempts=None if attempts == "unlimited" else attempts,
        queue=queue,
        jitter=jitter,
        on_exhausted=on_exhausted,
    )
    return _add_rule(rule)


def discard_on(
    *exceptions: type[BaseException], on_discard: DiscardCallback | None = None
) -> Callable[[T], T]:
    """Class decorator: drop the job, without retry and without a dead entry, on these errors."""
    if not exceptions:
        raise TypeError("discard_on needs at least one exception class")
    return _add_rule(DiscardRule(exceptions=exceptions, on_discard=on_discard))


def _add_rule(rule: Rule) -> Callable[[T], T]:
    def decorate(job_class: T) -> T:
        own: list[Rule] = list(job_class.__dict__.get(RULES_ATTRIBUTE, ()))
        # Decorators apply bottom-up; prepending keeps the list in reading order.
        setattr(job_class, RULES_ATTRIBUTE, (rule, *own))
        return job_class

    return decorate


def rules_of(job_class: type) -> list[Rule]:
    """The class's own rules in reading order, then its bases' rules."""
    rules: list[Rule] = []
    for klass in job_class.__mro__:
        rules.extend(klass.__dict__.get(RULES_ATTRIBUTE, ()))
    return rules


@dataclass
class FailureState:
    """What the payload says about earlier failures."""

    retry_count: int | None = None  # Sidekiq's: None before the first failure
    exception_executions: dict[str, int] = field(default_factory=dict)
    dead_allowed: bool = True
    # Sidekiq 7's time-based retries: the window in seconds, from the first failure.
    retry_for: float | None = None
    failed_at: float | None = None  # the first failure; None before it


def decide(
    job_class: type,
    error: BaseException,
    state: FailureState,
    retry_option: bool | int,
    *,
    max_retries: int = DEFAULT_MAX_RETRIES,
    now: float | None = None,
) -> Decision:
    """Decide the fate of a failed execution that happened at `now` (default: the clock)."""
    next_count = 0 if state.retry_count is None else state.retry_count + 1
    for rule in rules_of(job_class):
        if not isinstance(error, rule.exceptions):
            continue
        if isinstance(rule, DiscardRule):
            return Discard(f"discard_on({_qualified(type(error))})", rule.on_discard, by_rule=True)
        executions = state.exception_executions.get(rule.key, 0) + 1
        if rule.attempts is None or executions < rule.attempts:
            delay = rule_delay(rule, executions, error)
            return Retry(delay, next_count, rule.queue, rule.key, executions)
        if rule.on_exhausted is not None:
            return Discard(
                f"retry_on attempts ({rule.attempts}) exhausted", rule.on_exhausted, by_rule=True
            )
        return _dead_or_drop(
            state, f"retry_on attempts ({rule.attempts}) exhausted", rule.key, executions
        )
    return default_policy(state, retry_option, max_retries, time.time() if now is None else now)


def default_policy(
    state: FailureState, retry_option: bool | int, max_retries: int, now: float
) -> Decision:
    if retry_option is False:
        return Discard("retry is disabled for this job")
    if state.retry_for is not None:
        return _within_window(state, state.retry_for, now)
    limit = max_retries if retry_option is True else int(retry_option)
    next_count = 0 if state.retry_count is None else state.retry_count + 1
    if next_count < limit:
        return Retry(sidekiq_delay(next_count), next_count)
    return _dead_or_drop(state, f"retries exhausted ({limit})" if limit else "retry is 0")


def _within_window(state: FailureState, window: float, now: float) -> Decision:
    """Sidekiq 7's `retry_for`: retry until `window` seconds after the first failure.

    The retry count does not limit such a job (Sidekiq skips its count check when
    `retry_for` is set); the backoff still grows with it.
    """
    first_failure = now if state.failed_at is None else state.failed_at
    if first_failure + window < now:
        return _dead_or_drop(state, f"retry_for window ({window:g}s) passed")
    next_count = 0 if state.retry_count is None else state.retry_count + 1
    return Retry(sidekiq_delay(next_count), next_count)


def _dead_or_drop(
    state: FailureState, reason: str, rule_key: str | None = None, executions: int = 0
) -> Decision:
    if state.dead_allowed:
        return Dead(reason, rule_key, executions)
    return Discard(reason + "; `dead: false` drops it")


# Past this count the delay (over 300 million years) is no longer computed: a payload
# may carry any retry_count, and count**4 of a huge one is no float.
_LARGEST_COUNT = 10_000


def sidekiq_delay(count: int, rng: random.Random | None = None) -> float:
    """Sidekiq's default backoff: count**4 + 15 s plus rand(10) * (count + 1) s of jitter."""
    pick = (rng or random).randrange(10)
    count = min(count, _LARGEST_COUNT)
    return float(count**4 + 15 + pick * (count + 1))


def rule_delay(
    rule: RetryRule, executions: int, error: BaseException, rng: random.Random | None = None
) -> float:
    """The delay before the next attempt under a retry_on rule (ActiveJob's formula)."""
    source = rng or random
    wait = rule.wait
    if wait == "polynomially_longer":
        base = float(executions**4)
        return base + source.random() * base * rule.jitter + 2
    if isinstance(wait, timedelta):
        seconds = wait.total_seconds()
    elif isinstance(wait, int | float):
        seconds = float(wait)
    elif callable(wait):
        # A callable decides the delay itself; ActiveJob adds no jitter to procs either.
        value = wait(executions, error) if _takes_two(wait) else wait(executions)
        return value.total_seconds() if isinstance(value, timedelta) else float(value)
    else:
        raise TypeError(f"retry_on wait must be a number, timedelta or callable, not {wait!r}")
    return seconds + source.random() * seconds * rule.jitter


def _takes_two(function: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in parameters)


def _qualified(exception: type[BaseException]) -> str:
    module = exception.__module__
    return exception.__qualname__ if module == "builtins" else f"{module}.{exception.__qualname__}"


def error_class_name(error: BaseException) -> str:
    """The `error_class` stored in payloads: builtins bare, others with their module."""
    return _qualified(type(error))
