"""Submitting a job, shared by every way in: `POST /v1/jobs`, the WebSocket `submit` and the
OpenAI routes (so routers never import each other)."""

from typing import NamedTuple

from contracts.errors import ErrorCode
from contracts.jobs import JobAccepted, JobRequest, JobStatus
from edge.deps import EdgeState
from edge.errors import Unprocessable
from edge.metrics import JOBS_SUBMITTED
from edge.ratelimit import Token
from edge.store import InvalidInput


class Submission(NamedTuple):
    accepted: JobAccepted
    created: bool
    """Whether this submit made the job (not an idempotency key's earlier one): its log is
    new and whole, so a follower may read it live from its start."""


async def submit_job(
    state: EdgeState, user: str, request: JobRequest, token: Token | None = None
) -> Submission:
    """Validate, write and queue a job; shared by HTTP and the WebSocket `submit`. A user
    whose token quota is used up gets `429 token_quota` (`edge.usage`). `token`: the script
    that queues the job takes the request's token too (`JobStore.submit`)."""
    await state.quotas.check(user)
    try:
        job_id, created = await state.store.submit(user, request, token)
    except InvalidInput as exc:
        raise Unprocessable(ErrorCode.invalid_request, exc.message) from exc
    if created:
        JOBS_SUBMITTED.labels(request.model).inc()
        return Submission(JobAccepted(id=job_id, status=JobStatus.queued), True)
    status = await state.store.status(user, job_id)
    return Submission(JobAccepted(id=job_id, status=status), False)
