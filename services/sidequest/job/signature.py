"""Which calls `perform` accepts: checked at enqueue, and how a stored job is called.

At enqueue (`check`), the positional and keyword arguments are checked against perform's
signature as Python binds a call, so a wrong count, a missing required keyword or an
unknown one raises ArgumentMismatchError in the code that enqueued, instead of burying
the job once a worker runs it.

At perform (`call`), the stored arguments are split into positional and keyword ones
(`sidequest.keywords`) and checked the same way. A keyword hash reaches perform as
keywords; but when they do not bind and perform has no keyword-only parameters and no
`**kwargs`, the hash is passed as a trailing dict instead. That is what Ruby does with
keywords sent to a method that takes none, and it keeps a Ruby app's
`perform_later(5, id: 9)` reaching a Python `perform(self, report_id, options)` written
for a hash, as it did before keyword arguments were supported.

Pure: no I/O. Binding costs microseconds, so the common call (no keywords, no required
keyword-only parameter) is checked by counting alone: bulk enqueues check every job.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from sidequest import keywords, payload
from sidequest.errors import ArgumentMismatchError
from sidequest.payload import JobDict

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
#: stands for the job instance in a bound signature
_INSTANCE = object()


@dataclass(frozen=True)
class Shape:
    """What perform accepts, read once per class from its signature (self excluded)."""

    #: perform's signature, self included: a keyword named like it must not bind
    signature: inspect.Signature
    #: positional parameters without a default
    low: int
    #: positional parameters in all; None with *args
    high: int | None
    #: keyword-only parameters without a default
    required_keywords: frozenset[str]
    #: keyword-only parameters or **kwargs: perform "takes keywords" in Ruby's sense
    takes_keywords: bool
    #: whether any argument can be passed by name
    named: bool

    @classmethod
    def of(cls, perform: Any) -> Shape:
        full = inspect.signature(perform)
        parameters = list(full.parameters.values())[1:]
        positional = [p for p in parameters if p.kind in _POSITIONAL]
        keyword_only = [p for p in parameters if p.kind is p.KEYWORD_ONLY]
        var_keyword = any(p.kind is p.VAR_KEYWORD for p in parameters)
        return cls(
            signature=full,
            low=sum(1 for p in positional if p.default is p.empty),
            high=None if any(p.kind is p.VAR_POSITIONAL for p in parameters) else len(positional),
            required_keywords=frozenset(p.name for p in keyword_only if p.default is p.empty),
            takes_keywords=bool(keyword_only) or var_keyword,
            named=var_keyword or any(p.kind in _NAMED for p in parameters),
        )

    def counts(self, count: int) -> bool:
        """Whether `count` positional arguments are as many as perform takes."""
        return self.low <= count and (self.high is None or count <= self.high)


def check(shape: Shape, job_name: str, args: list[Any], kwargs: dict[str, Any]) -> None:
    """Raise ArgumentMismatchError unless perform(*args, **kwargs) would bind."""
    count = len(args)
    if shape.high is not None and count > shape.high:
        raise count_error(shape, job_name, count)
    if not kwargs and not shape.required_keywords:
        if count < shape.low:
            raise count_error(shape, job_name, count)
        return
    try:
        shape.signature.bind(_INSTANCE, *args, **kwargs)
    except TypeError as error:
        raise ArgumentMismatchError(f"{job_name}.perform: {error}") from None


def could_fit(shape: Shape, count: int) -> bool:
    """Whether `count` stored arguments could fit perform, the last one maybe keywords."""
    if shape.counts(count):
        return True
    return shape.named and count >= 1 and (shape.high is None or count - 1 <= shape.high)


def count_error(shape: Shape, job_name: str, count: int) -> ArgumentMismatchError:
    low, high = shape.low, shape.high
    expected = f"{low}" if low == high else f"{low} to {high if high is not None else 'any'}"
    return ArgumentMismatchError(
        f"{job_name}.perform takes {expected} positional argument(s), got {count}"
    )


def call(
    shape: Shape, job_name: str, job_payload: JobDict, args: list[Any]
) -> tuple[list[Any], dict[str, Any]]:
    """The positional and keyword arguments to perform a stored job with.

    Args:
        job_payload: The payload as stored, which tells whether an ActiveJob payload's
            last argument was a keyword hash.
        args: Its arguments for perform: `args`, or an ActiveJob payload's `arguments`
            with the markers dropped.
    """
    positional, named = _split(job_payload, args)
    if not named:
        check(shape, job_name, positional, {})
        return positional, {}
    try:
        shape.signature.bind(_INSTANCE, *positional, **named)
    except TypeError as error:
        if not shape.takes_keywords and shape.counts(len(positional) + 1):
            return [*positional, named], {}
        raise ArgumentMismatchError(f"{job_name}.perform: {error}") from None
    return positional, named


def _split(job_payload: JobDict, args: list[Any]) -> tuple[list[Any], dict[str, Any]]:
    if not args or type(args[-1]) is not dict:
        return args, {}
    if keywords.is_marked(args[-1]):
        return keywords.split(args)
    # The worker drops ActiveJob's markers before it calls us (runtime/resolution.py), so
    # whether the last argument was a keyword hash is read from what Ruby stored.
    stored = payload.active_job_arguments(job_payload)
    if stored is not None and len(stored) == len(args) and keywords.is_marked(stored[-1]):
        return args[:-1], dict(args[-1])
    return args, {}
