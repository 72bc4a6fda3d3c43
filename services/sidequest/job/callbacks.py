"""Callbacks around perform and enqueue, declared with decorators on job methods. Pure.

    class ApplicationJob(Job):
        @around_perform
        def measure_time(self, block):
            started = time.perf_counter()
            block()
            log.info("%s took %.3fs", self.job_name, time.perf_counter() - started)

`before_*` callbacks run first, in declaration order with base classes first; then
the `around_*` callbacks, the first declared outermost, each calling `block()` to go
on (one that does not call it stops the chain: nothing is performed or enqueued);
then the action; then the `after_*` callbacks in declaration order. After callbacks do
not run when the action raised. A subclass that redefines a callback method under the
same name replaces it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

Event = Literal["perform", "enqueue"]
Kind = Literal["before", "around", "after"]
F = TypeVar("F", bound=Callable[..., Any])

MARKER = "__sidequest_callback__"


def _marker(event: Event, kind: Kind) -> Callable[[F], F]:
    def decorate(function: F) -> F:
        setattr(function, MARKER, (event, kind))
        return function

    return decorate


before_perform = _marker("perform", "before")
around_perform = _marker("perform", "around")
after_perform = _marker("perform", "after")
before_enqueue = _marker("enqueue", "before")
around_enqueue = _marker("enqueue", "around")
after_enqueue = _marker("enqueue", "after")


@dataclass(frozen=True)
class CallbackChain:
    """The method names to call, per kind, for one event of one class."""

    before: tuple[str, ...] = ()
    around: tuple[str, ...] = ()
    after: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.before or self.around or self.after)


class _Halted:
    """Sentinel: an around callback did not call its block."""


HALTED = _Halted()


def collect(job_class: type, event: Event) -> CallbackChain:
    """Walk the class hierarchy, base classes first, and list the marked methods."""
    names: dict[Kind, dict[str, None]] = {"before": {}, "around": {}, "after": {}}
    for klass in reversed(job_class.__mro__):
        for name, member in vars(klass).items():
            mark = getattr(member, MARKER, None)
            if mark is None:
                continue  # an undecorated override keeps the inherited registration
            declared = mark[1] if mark[0] == event else None
            for kind, declared_names in names.items():
                if kind != declared:
                    declared_names.pop(name, None)
            if declared is not None:
                names[declared].setdefault(name, None)
    return CallbackChain(
        before=tuple(names["before"]),
        around=tuple(names["around"]),
        after=tuple(names["after"]),
    )


def run(target: object, chain: CallbackChain, action: Callable[[], Any]) -> Any:
    """Run `action` inside the chain; returns its result, or HALTED if a callback stopped it."""
    if chain.empty:
        return action()
    for name in chain.before:
        getattr(target, name)()
    outcome: list[Any] = [HALTED]

    def innermost() -> Any:
        outcome[0] = action()
        return outcome[0]

    block: Callable[[], Any] = innermost
    for name in reversed(chain.around):
        block = _wrap(getattr(target, name), block)
    block()
    if outcome[0] is HALTED:
        return HALTED
    for name in chain.after:
        getattr(target, name)()
    return outcome[0]


def _wrap(
    callback: Callable[[Callable[[], Any]], Any], block: Callable[[], Any]
) -> Callable[[], Any]:
    return lambda: callback(block)
