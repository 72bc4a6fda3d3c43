"""Every error the shop domain raises on purpose, in one place.

Callers map these to behaviour: the web tier turns `InvalidInput` into a 4xx answer,
the job classes discard on a missing record, fail for good on a definition error and
retry on transient mail errors. Database failures are not wrapped: they surface as
SQLAlchemy's own exceptions (OperationalError and friends) so jobs can retry on them.
"""

from __future__ import annotations

from dataclasses import dataclass


class ShopError(Exception):
    """Base class of the domain's deliberate errors."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a piece of untrusted input.

    Attributes:
        field: The input field at fault, or "" when the input as a whole is wrong.
        message: What is wrong, phrased for the person who sent the input.
    """

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class InvalidInput(ShopError, ValueError):
    """Untrusted input failed validation; `problems` lists every fault found."""

    def __init__(self, problems: list[Problem]) -> None:
        if not problems:
            raise ValueError("InvalidInput needs at least one problem")
        self.problems = tuple(problems)
        super().__init__("; ".join(str(problem) for problem in self.problems))

    def as_dict(self) -> dict[str, object]:
        """The problems in a JSON-ready shape for an API error body."""
        return {
            "error": str(self),
            "problems": [{"field": p.field, "message": p.message} for p in self.problems],
        }


class InvalidReportRequest(InvalidInput):
    """A report request (kind, date range, e-mail) is malformed."""


class InvalidSignup(InvalidInput):
    """A signup (e-mail, name) is malformed."""


class SettingsError(ShopError, ValueError):
    """A setting is malformed; the message names the setting (or its variable)."""

    def __init__(self, setting: str, message: str) -> None:
        self.setting = setting
        self.detail = message
        super().__init__(f"{setting}: {message}")


class ReportNotFound(ShopError, LookupError):
    """No report has the given id (it never existed or was deleted)."""

    def __init__(self, report_id: str) -> None:
        self.report_id = report_id
        super().__init__(f"report {report_id!r} does not exist")


class ReportDefinitionError(ShopError):
    """A stored report cannot be built: unknown kind or invalid parameters.

    Retrying cannot help, so the job should fail the report for good.
    """


class ReportNotReady(ShopError):
    """The report's files were asked for before the report was done."""


class UserNotFound(ShopError, LookupError):
    """No user has the given id."""

    def __init__(self, user_id: object) -> None:
        self.user_id = user_id
        super().__init__(f"user {user_id!r} does not exist")


class DuplicateEmail(ShopError):
    """A user with this e-mail address already exists."""

    def __init__(self, email: str) -> None:
        self.email = email
        super().__init__(f"a user with e-mail {email!r} already exists")


class MailError(ShopError):
    """Base class of mail delivery failures."""


class TransientMailError(MailError):
    """Delivery failed in a way that may succeed later: retry with backoff.

    Connection failures, timeouts, disconnects and 4xx SMTP replies end up here; the
    original exception is chained as `__cause__`.
    """

    def __init__(self, message: str, *, smtp_code: int | None = None) -> None:
        self.smtp_code = smtp_code
        super().__init__(message)


class PermanentMailError(MailError):
    """The SMTP server refused the message for good (5xx): retrying cannot help."""

    def __init__(self, message: str, *, smtp_code: int | None = None) -> None:
        self.smtp_code = smtp_code
        super().__init__(message)


class DeliveryInProgress(TransientMailError):
    """Another attempt holds the claim on this delivery key: retry after its lease.

    Attributes:
        retry_after: Seconds until that claim expires (0 when it just did).
    """

    def __init__(self, message: str, *, retry_after: float = 0.0) -> None:
        self.retry_after = max(0.0, retry_after)
        super().__init__(message)
