"""Attribute names of OpenTelemetry's messaging semantic conventions, as used here."""

from __future__ import annotations

SYSTEM = "messaging.system"
OPERATION_TYPE = "messaging.operation.type"
OPERATION_NAME = "messaging.operation.name"
DESTINATION = "messaging.destination.name"
MESSAGE_ID = "messaging.message.id"
BATCH_COUNT = "messaging.batch.message_count"
JOB_CLASS = "sidequest.job.class"
RETRY_COUNT = "sidequest.retry_count"
OUTCOME = "sidequest.outcome"

#: messaging.system: not a value the conventions list, so the project's own name
SYSTEM_NAME = "sidequest"
TRACER_NAME = "sidequest"
