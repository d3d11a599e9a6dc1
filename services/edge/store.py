"""The edge's view of jobs in Redis: submit, read, list, cancel.

All writes go through the event-log scripts (`contracts.eventlog`), so the edge and the workers
follow one set of rules for seq, the end of a job and cancel.
"""

import re
import time
from collections.abc import Callable
from typing import Any, cast

from opentelemetry.trace import SpanKind
from pydantic import BaseModel, ValidationError
from redis.asyncio import Redis

from contracts.batch import ScriptBatch
from contracts.durability import NO_WAIT, Durability
from contracts.errors import ErrorCode
from contracts.eventlog import Admission, DeleteResult, EventLog, JobRef, SubmitRefusal
from contracts.events import JobEnd
from contracts.jobs import (
    ChatInput,
    ChatParams,
    EmbeddingsInput,
    EmbeddingsParams,
    JobEnvelope,
    JobRequest,
    JobStatus,
)
from contracts.keys import GROUP, Keys
from contracts.passthrough import FORWARDING_ENGINES, unhonoured
from contracts.pools import ModelKind, PoolConfig, PoolsConfig
from contracts.queue import positions
from contracts.telemetry import carrier, span
from contracts.wire import JOB_ID_PATTERN
from edge import records
from edge.context import ContextChecker, utf8_size
from edge.errors import (
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    TooManyRequests,
    UnsupportedParameter,
    job_not_found,
)
from edge.quota import drain_rate, storage_refusal
from edge.ratelimit import Decision, RateLimited, Token, request_bucket
from edge.tiers import DEFAULT_TIER, LimitTier, holder

_INPUTS: dict[ModelKind, tuple[type[BaseModel], type[BaseModel]]] = {
    ModelKind.chat: (ChatInput, ChatParams),
    ModelKind.embeddings: (EmbeddingsInput, EmbeddingsParams),
}


_JOB_ID = re.compile(JOB_ID_PATTERN)
LISTING_HORIZON_RETENTIONS = 2
"""`GET /v1/jobs` lists the jobs created within this many record retentions: a user's index
drops older entries (whose records have expired, unless a job took longer than a retention)
and expires that long after the user's last submit, so no user leaves a key for ever."""


def _check_honoured(params: ChatParams, pool: PoolConfig) -> None:
    """Refuse a param the pool's engine cannot honour: never ignore it (`contracts.passthrough`)."""
    name = unhonoured(params.model_dump(mode="json", exclude_none=True), pool.engine)
    if name is not None:
        engines = ", ".join(sorted(FORWARDING_ENGINES))
        raise UnsupportedParameter(
            name,
            f"Unsupported parameter: '{name}' is not supported by model {pool.name!r} (engine "
            f"{pool.engine!r}); only models of the engine {engines} forward it",
        )


class InvalidInput(ValueError):
    """The request's input or params do not fit its model's kind."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class JobStore:
    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        pools: PoolsConfig,
        *,
        retention_seconds: int,
        idempotency_ttl_seconds: int,
        max_queued: int = 10000,
        max_input_bytes: int = 512 << 10,
        tier_for: Callable[[str], LimitTier] = lambda _: DEFAULT_TIER,
        log_retention_seconds: int | None = None,
        list_max_bytes: int = 4 << 20,
        durability: Durability = NO_WAIT,
        batch: ScriptBatch | None = None,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.pools = pools
        self.retention_seconds = retention_seconds
        self.log_retention_seconds = log_retention_seconds or retention_seconds
        self.idempotency_ttl_seconds = idempotency_ttl_seconds
        self.max_queued = max_queued
        self.max_input_bytes = max_input_bytes
        self.list_max_bytes = list_max_bytes
        self.tier_for = tier_for  # a user's limits and weight (guests lower, services higher)
        self.context = ContextChecker(redis, keys)
        self.log = EventLog(redis, keys, retention_seconds, durability, batch=batch)

    async def ensure_groups(self) -> None:
        """Create each pool's consumer group from id 0, so jobs submitted before any worker
        started are delivered to the first one (a group made at `$` would skip them)."""
        for pool in self.pools.pools:
            for stream in self.keys.job_streams(pool):
                try:
                    await self.redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
                except Exception as exc:  # BUSYGROUP: it exists already
                    if "BUSYGROUP" not in str(exc):
                        raise

    def pool_for(self, model: str) -> PoolConfig:
        pool = self.pools.get(model)
        if pool is None:
            known = ", ".join(sorted(self.pools.pools)) or "none"
            raise NotFound(ErrorCode.unknown_model, f"no model {model!r}; known models: {known}")
        return pool

    async def validate(self, request: JobRequest) -> PoolConfig:
        """The request's pool, once its input and params fit the pool's kind and model."""
        pool = self.pool_for(request.model)
        input_model, params_model = _INPUTS[pool.kind]
        parsed = []
        for name, model, value in (
            ("input", input_model, request.input),
            ("params", params_model, request.params),
        ):
            try:
                parsed.append(model.model_validate(value))
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(part) for part in (name, *first["loc"]))
                raise InvalidInput(
                    f"{where}: {first['msg']} (model {pool.name!r} is a {pool.kind} model)"
                ) from exc
        parsed_input, params = parsed
        if isinstance(params, ChatParams):
            _check_honoured(params, pool)
        self._check_input_size(parsed_input)
        if isinstance(parsed_input, ChatInput) and isinstance(params, ChatParams):
            await self.context.check_chat(pool.name, parsed_input, params)
        return pool

    def _check_input_size(self, parsed_input: BaseModel) -> None:
        """Refuse input over `max_input_bytes` from its length alone, before any tokenizing."""
        if isinstance(parsed_input, ChatInput):
            texts = [message.content for message in parsed_input.messages]
        else:
            texts = cast(EmbeddingsInput, parsed_input).texts
        size = sum(utf8_size(text) for text in texts)
        if size > self.max_input_bytes:
            raise PayloadTooLarge(
                ErrorCode.input_too_large,
                f"the input's texts take {size} bytes, more than the {self.max_input_bytes} "
                "one job may have: send less text, or split it over several jobs",
            )

    async def submit(
        self, user: str, request: JobRequest, token: Token | None = None
    ) -> tuple[str, bool]:
        """Write the job and queue it. Returns its id and whether it was new (an
        idempotency key seen before returns the earlier job). `token`: the script that
        queues it takes the request's token from the user's bucket first (429 when empty).
        Traced as `relayline.submit`, the root of the job's trace (contracts.telemetry)."""
        with span("relayline.submit", kind=SpanKind.PRODUCER) as submit:
            job_id, created = await self._submit(user, request, token)
            submit.set_attribute("relayline.job_id", job_id)
            submit.set_attribute("relayline.model", request.model)
            submit.set_attribute("relayline.created", created)
            return job_id, created

    async def _submit(
        self, user: str, request: JobRequest, token: Token | None
    ) -> tuple[str, bool]:
        pool = await self.validate(request)
        job_id = self.keys.new_job_id(user)
        now = time.time()
        envelope = JobEnvelope(
            id=job_id,
            owner=user,
            model=pool.name,
            input=request.input,
            params=request.params,
            trace=carrier(),
        )
        tier = self.tier_for(user)
        max_active, budget = tier.max_active_jobs, tier.max_stored_bytes
        asked_at = time.monotonic()
        answer = await self.log.submit(
            JobRef(job_id, pool.name, user),
            now=now,
            envelope=envelope.model_dump_json(),
            admission=Admission(
                queue_cap=self.max_queued,
                max_active=max_active,
                budget=budget,
                hold=pool.max_output_bytes,
                drain_rate=drain_rate(budget, self.retention_seconds),
                weight=tier.weight,
                rate=request_bucket(tier) if token is not None else None,
            ),
            idempotency_key=request.idempotency_key,
            idempotency_ttl=self.idempotency_ttl_seconds,
            log_ttl=self.log_retention_seconds,
            listing_horizon=LISTING_HORIZON_RETENTIONS * self.retention_seconds,
            priority=request.priority,
        )
        if token is not None:
            token.taken = True
        if answer.refusal is SubmitRefusal.rate_limited and answer.token is not None:
            raise RateLimited(Decision.of(answer.token, request_bucket(tier), asked_at), user)
        if answer.refusal is SubmitRefusal.storage_full:
            raise storage_refusal(answer.retry_after, budget, user)
        if answer.refusal is SubmitRefusal.user_limit:
            raise TooManyRequests(
                ErrorCode.rate_limited,
                f"{holder(user)} have {max_active} jobs that have not ended, the most "
                "allowed: wait for one to end, or cancel one",
                headers={"Retry-After": "5"},
            )
        if answer.refusal is SubmitRefusal.queue_full:
            raise ServiceUnavailable(
                ErrorCode.queue_full,
                f"model {pool.name!r} has {self.max_queued} jobs waiting; retry later",
                headers={"Retry-After": "5"},
            )
        return answer.job_id, answer.job_id == job_id

    async def owned_record(self, user: str, job_id: str) -> dict[str, str]:
        """The raw record, without its output, of a job the user owns, or the same 404 as a
        missing job (also for an id that cannot be one, without asking Redis)."""
        if not _JOB_ID.fullmatch(job_id):
            raise job_not_found(job_id)
        values = await self.redis.hmget(self.keys.job(job_id), list(records.FIELDS))
        return _owned(user, job_id, cast(list[str | None], values))

    async def has_events(self, job_id: str) -> bool:
        """Whether the job's event log still exists (it may expire before the record)."""
        return bool(await self.redis.exists(self.keys.events(job_id)))

    async def status(self, user: str, job_id: str) -> JobStatus:
        return JobStatus((await self.owned_record(user, job_id))["status"])

    async def get(self, user: str, job_id: str) -> str:
        """The `JobRecord` JSON of a job the user owns, its stored output spliced in."""
        if not _JOB_ID.fullmatch(job_id):
            raise job_not_found(job_id)
        key = self.keys.job(job_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hmget(key, list(records.FIELDS))
            pipe.hget(key, records.OUTPUT)
            values, output = await pipe.execute()
        record = _owned(user, job_id, values)
        await self._place([record])
        return records.record_json(record, output)

    async def _place(self, raws: list[dict[str, str]]) -> None:
        """Add `position` to the raw records of queued jobs."""
        queued = [(raw, where) for raw in raws if (where := records.waiting(raw))]
        if not queued:
            return
        found = await positions(self.redis, self.keys, [where for _, where in queued])
        for (raw, _), position in zip(queued, found, strict=True):
            if position is not None:
                raw["position"] = str(position)

    async def _read_page(
        self, job_ids: list[str]
    ) -> tuple[list[str], list[tuple[list[str | None], str | None]]]:
        """The first of `job_ids` whose outputs fit the page's budget, with their records'
        fields and outputs: sizes are read first, so no output past the budget is fetched."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.hstrlen(self.keys.job(job_id), records.OUTPUT)
            sizes: list[int] = await pipe.execute()
        taken = job_ids[: records.page_size(sizes, self.list_max_bytes)]
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in taken:
                pipe.hmget(self.keys.job(job_id), list(records.FIELDS))
                pipe.hget(self.keys.job(job_id), records.OUTPUT)
            read: list[Any] = await pipe.execute()
        pairs = list(zip(read[::2], read[1::2], strict=True))
        # an output written since its size was read counts too: cut the page again
        kept = records.page_size([len(output or "") for _, output in pairs], self.list_max_bytes)
        return taken[:kept], pairs[:kept]

    async def cancel(self, user: str, job_id: str) -> str:
        record = await self.owned_record(user, job_id)
        now = time.time()
        end = JobEnd(job_id=job_id, seq=1, ts=now, status=JobStatus.cancelled)
        await self.log.cancel(JobRef(job_id, record["model"], record["owner"]), end)
        return await self.get(user, job_id)

    async def delete(self, user: str, job_id: str) -> bool:
        """Delete an ended job the user owns (record, event log, index entry); False for one
        that has not ended. Another user's job is the same 404 as a missing one (checked
        first: its owner's index may lie in another slot of a Cluster than the caller's)."""
        record = await self.owned_record(user, job_id)
        result = await self.log.delete(JobRef(job_id, record["model"], user))
        if result is DeleteResult.missing:
            raise job_not_found(job_id)
        return result is DeleteResult.deleted

    async def list(
        self, user: str, limit: int, cursor: float | None
    ) -> tuple[list[str], str | None]:
        """A page of the user's jobs, newest first, as `JobRecord` JSON: at most `limit`,
        and fewer when their outputs pass `list_max_bytes` (always one). The cursor names
        the last job on the page."""
        index = self.keys.user_jobs(user)
        upper: str = f"({cursor!r}" if cursor is not None else "+inf"
        entries = cast(
            list[tuple[str, float]],
            await self.redis.zrevrangebyscore(
                index, upper, "-inf", start=0, num=limit, withscores=True
            ),
        )
        taken, read = await self._read_page([job_id for job_id, _ in entries])
        found, expired = [], []
        for job_id, (values, output) in zip(taken, read, strict=True):
            if values[0] is None:
                expired.append(job_id)
            else:
                found.append((records.present(values), output))
        await self._place([raw for raw, _ in found])
        jobs = [records.record_json(raw, output) for raw, output in found]
        if expired:
            await self.redis.zrem(index, *expired)
        more = len(taken) < len(entries) or len(entries) == limit
        return jobs, repr(entries[len(taken) - 1][1]) if more and taken else None


def _owned(user: str, job_id: str, values: list[str | None]) -> dict[str, str]:
    """The raw record from its `FIELDS` values, if it exists and the user owns it."""
    record = records.present(values)
    if record.get("owner") != user:
        raise job_not_found(job_id)
    return record
