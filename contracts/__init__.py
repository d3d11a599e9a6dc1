"""Relayline's contracts: the typed language every part speaks.

Requests, job records, events, WebSocket messages, errors and every Redis key name live
here. This package imports nothing of the services; the edge, the workers and the web app
(through generated TypeScript) all depend on it.
"""

from contracts.errors import ErrorBody, ErrorCode, ErrorDetail
from contracts.events import (
    Event,
    EventAdapter,
    JobEnd,
    JobQueued,
    JobReset,
    JobStart,
    Progress,
    TextDelta,
    Usage,
)
from contracts.jobs import (
    TERMINAL_STATUSES,
    ChatInput,
    ChatMessage,
    ChatParams,
    EmbeddingsInput,
    JobAccepted,
    JobEnvelope,
    JobList,
    JobRecord,
    JobRequest,
    JobStatus,
)
from contracts.keys import GROUP, Keys
from contracts.pools import ModelKind, PoolConfig, PoolsConfig, load_pools

__all__ = [
    "GROUP",
    "TERMINAL_STATUSES",
    "ChatInput",
    "ChatMessage",
    "ChatParams",
    "EmbeddingsInput",
    "ErrorBody",
    "ErrorCode",
    "ErrorDetail",
    "Event",
    "EventAdapter",
    "JobAccepted",
    "JobEnd",
    "JobEnvelope",
    "JobList",
    "JobQueued",
    "JobRecord",
    "JobRequest",
    "JobReset",
    "JobStart",
    "JobStatus",
    "Keys",
    "ModelKind",
    "PoolConfig",
    "PoolsConfig",
    "Progress",
    "TextDelta",
    "Usage",
    "load_pools",
]
