"""Mailers in the manner of ActionMailer: `ReportMailer.completed(report_id).deliver_later()`.

A mailer class groups mail actions. Calling an action on the class renders nothing
yet; it returns a `MessageDelivery` that either

- `deliver_now()`: renders the mail and sends it at once, or
- `deliver_later()`: enqueues a `MailDeliveryJob` on the `mailers` queue with the
  mailer's name, the action and its arguments, as ActiveJob's deliver_later does; the
  job renders and sends it in a worker.

Every delivery goes through `shop.mail.deliver_once` under the key the action names
(derived from the record the mail is about, not from a job id), so however often a
job runs or is retried, and however many jobs ask for the same mail, it is sent once.

    class ReportMailer(Mailer):
        @mail_action
        def completed(self, report_id: str) -> Mail:
            ...
            return Mail(message, report_completed_delivery_key(report_id))
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any, ClassVar, Concatenate, Generic, ParamSpec

from shop.errors import DeliveryInProgress, PermanentMailError, ReportNotFound, UserNotFound
from shop.jobs.application_job import TRANSIENT_ERRORS, ApplicationJob
from shop.jobs.wiring import JobWiring, current
from shop.mail.delivery import DeliveryOutcome, deliver_once
from sidequest import discard_on, retry_on

P = ParamSpec("P")

MAILERS_QUEUE = "mailers"
MAIL_ATTEMPTS = 10


class UnknownMailAction(LookupError):
    """A delivery names a mailer or an action that does not exist (here, any more)."""


@dataclass(frozen=True)
class Mail:
    """A rendered mail and the key it is delivered under (see `deliver_once`)."""

    message: EmailMessage
    delivery_key: str


class mail_action(Generic[P]):  # lower case: used as a decorator, like property
    """Marks a mailer method as a mail action.

    On the class, the action returns a `MessageDelivery` for its arguments instead of
    running; the method itself runs when the delivery renders. The arguments travel
    through Redis as JSON, so pass ids, not records.
    """

    def __init__(self, build: Callable[Concatenate[Any, P], Mail]) -> None:
        self.build = build
        self.name = build.__name__
        self.signature = inspect.signature(build)
        self.__doc__ = build.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: object, owner: type[Mailer]) -> Callable[P, MessageDelivery]:
        def delivery(*args: P.args, **kwargs: P.kwargs) -> MessageDelivery:
            return owner.delivery(self.name, self.positional(args, kwargs))

        delivery.__name__ = self.name
        delivery.__doc__ = self.__doc__
        return delivery

    def positional(self, args: Sequence[Any], kwargs: dict[str, Any]) -> tuple[Any, ...]:
        """The call's arguments as a positional tuple, checked against the method.

        Raises:
            TypeError: The arguments do not fit the method, or use a keyword-only
                parameter (which a positional JSON list could not carry).
        """
        bound = self.signature.bind(None, *args, **kwargs)
        if bound.kwargs:
            raise TypeError(f"mail action {self.name} takes positional arguments only")
        return tuple(bound.args[1:])


class Mailer:
    """Base class of mailers; subclasses declare their actions with `@mail_action`."""

    #: name written into delivery jobs (the class name by default)
    mailer_name: ClassVar[str] = "Mailer"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "mailer_name" not in cls.__dict__:
            cls.mailer_name = cls.__name__
        _mailers[cls.mailer_name] = cls

    @property
    def wiring(self) -> JobWiring:
        """Settings, sessions and transport of this process."""
        return current()

    @classmethod
    def delivery(cls, action: str, args: Sequence[Any]) -> MessageDelivery:
        """A delivery of `action` with positional `args`, checked but not rendered.

        Raises:
            UnknownMailAction: The mailer has no such action.
            TypeError: The arguments do not fit the action.
        """
        declared = _action_of(cls, action)
        declared.positional(args, {})
        return MessageDelivery(cls, action, tuple(args))


@dataclass(frozen=True)
class MessageDelivery:
    """One mail, not rendered yet: what a mail action returns."""

    mailer: type[Mailer]
    action: str
    args: tuple[Any, ...]

    def render(self) -> Mail:
        """Run the action: load what the mail is about and render it.

        Raises:
            ReportNotFound, UserNotFound: The record the mail is about is gone.
        """
        return _action_of(self.mailer, self.action).build(self.mailer(), *self.args)

    def deliver_now(self) -> DeliveryOutcome:
        """Render and send now, unless this mail was sent before.

        Raises:
            TransientMailError: Sending failed and may succeed later.
            PermanentMailError: The server refused the mail for good.
        """
        mail = self.render()
        wiring = current()
        return deliver_once(
            wiring.session_factory,
            wiring.transport,
            mail.delivery_key,
            mail.message,
            lease=timedelta(seconds=wiring.settings.mail_claim_lease),
        )

    def deliver_later(
        self,
        *,
        wait: float | timedelta | None = None,
        wait_until: datetime | float | None = None,
        queue: str | None = None,
    ) -> MailDeliveryJob:
        """Enqueue a `MailDeliveryJob` that delivers this mail.

        Args:
            wait: Deliver after this many seconds (or this timedelta).
            wait_until: Deliver at this time.
            queue: Queue to use instead of `mailers`.

        Raises:
            EnqueueError: Redis could not take the job.
        """
        configured = MailDeliveryJob.set(queue=queue, wait=wait, wait_until=wait_until)
        job = configured.perform_later(self.mailer.mailer_name, self.action, list(self.args))
        assert isinstance(job, MailDeliveryJob)
        return job


def until_the_claim_expires(executions: int, error: BaseException) -> float:
    """Retry an attempt that found the mail claimed once the claim has expired.

    The claim's holder died or is still sending; backing off polynomially would let the
    mail wait far past the lease (an 18 s, 83 s, 258 s ... series against 300 s).
    """
    remaining = error.retry_after if isinstance(error, DeliveryInProgress) else 0.0
    return remaining + 1.0


# Top rule first: a refused mail goes to the dead set at once (attempts=1 allows only
# the execution that failed), where an operator sees it; retrying would be refused again.
@retry_on(PermanentMailError, UnknownMailAction, TypeError, attempts=1)
@discard_on(ReportNotFound, UserNotFound)
@retry_on(DeliveryInProgress, wait=until_the_claim_expires, attempts=MAIL_ATTEMPTS)
@retry_on(*TRANSIENT_ERRORS, wait="polynomially_longer", attempts=MAIL_ATTEMPTS)
class MailDeliveryJob(ApplicationJob):
    """Delivers one mailer action's mail (what `deliver_later` enqueues).

    A mail about a record deleted in the meantime is dropped.
    """

    queue = MAILERS_QUEUE

    def perform(self, mailer: str, action: str, args: list[Any]) -> None:
        if not isinstance(args, list):
            raise TypeError(f"mail action arguments must be a list, got {type(args).__name__}")
        mailer_named(mailer).delivery(action, args).deliver_now()


_mailers: dict[str, type[Mailer]] = {}


def mailer_named(name: str) -> type[Mailer]:
    """The mailer class registered under `name`.

    Raises:
        UnknownMailAction: No mailer has that name.
    """
    mailer = _mailers.get(name) if isinstance(name, str) else None
    if mailer is None:
        raise UnknownMailAction(f"no mailer is named {name!r}")
    return mailer


def _action_of(mailer: type[Mailer], action: str) -> mail_action[Any]:
    # getattr_static finds the descriptor itself; only declared actions qualify, so a
    # job payload cannot name an arbitrary attribute of the class.
    found = inspect.getattr_static(mailer, action, None) if isinstance(action, str) else None
    if not isinstance(found, mail_action):
        raise UnknownMailAction(f"{mailer.mailer_name} has no mail action {action!r}")
    return found
