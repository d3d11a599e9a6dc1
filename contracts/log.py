"""The event-log protocol: Lua scripts that write a job's record and event log atomically.

Both the edge (submit, cancel of a queued job) and the workers (start, every event, the end)
write through these scripts, so these rules hold whoever writes:

- seq is taken from the job record (`HINCRBY seq`) and the event is stored under the stream
  entry id `0-<seq>`: seqs are gap-free and a reader resumes with `XREAD ... 0-<after>`;
- nothing is appended after `job-end`;
- a write that names an attempt older than the record's current one is refused (fencing);
- each append answers whether a cancel was requested, so workers learn of it without polling;
- an append names its step within the attempt and a step seen before is not written again, so
  a worker may retry an append whose answer it lost (a Redis restart, a dropped connection);
- an append names the highest seq its worker has been given for the job (`floor`): a record
  whose seq is lower lost the tail of its log (a failover to a replica that had not received
  it), so the script raises the record's seq to `floor`, writes nothing and answers
  `regressed`; the worker then starts a new attempt, whose `job-reset` gets a seq above any
  a client may have seen (never a seq issued twice);
- a pool's queue in a shard that holds `cap` waiting jobs refuses more (admission control
  before Redis fills up); a job waits in its queue (`contracts.queue`), not in the job
  stream, until a worker with a free slot takes it (`TAKE`), so the queue decides the order;
- a user with `limit` unfinished jobs may submit no more until one ends (fairness): a counter
  per user, raised by submit and lowered by whichever script ends the job;
- a job's output is stored once, in its record: the `job-end` in the log has no `output`
  (the edge adds the record's as it delivers `job-end`);
- a user's index of jobs lists those created within the listing horizon (twice the records'
  retention, so a job's record expires first unless the job took longer than a retention):
  older entries are dropped, and the index expires a horizon after the user's last submit;
- the log may expire before the record: submit writes the log's retention into the record
  (`log_ttl`, the edge's setting) and whichever script ends the job applies the shorter one;
- a user's stored output is bounded by a byte budget: a bucket per user (`Keys.user_stored`)
  that drains at budget / retention bytes per second, on Redis's clock. Submit refuses a user
  whose bucket holds the budget or more, else adds the pool's `max_output_bytes` to it (held
  while the job runs) and writes that and the drain rate into the record (`store_held`,
  `store_rate`); whichever script ends the job gives the held bytes back and adds the real
  size of the stored output. A user thus holds at most its budget plus one job's output at
  once from a burst, and at most twice that over any retention period.

An event's JSON is passed without its `seq`; the script prepends `{"seq":N,` (and `START`, which
numbers the attempt, `"attempt":A,` to the attempt's `job-reset` and `job-start`).
"""

from enum import IntEnum

from pydantic import BaseModel
from pydantic_core import to_json

from contracts.events import JobEnd
from contracts.gcra import TAKE_TOKENS

EVENT_FIELD = "e"
"""The one field of an event-log entry: the event's JSON, seq included."""

ENVELOPE_FIELD = "__data__"
"""The field of a job-stream entry holding the job envelope's JSON (FastStream reads it)."""


SUBMIT_QUEUE_FULL = ""
"""What `SUBMIT` answers when the pool's queue holds its cap."""
SUBMIT_USER_LIMIT = "-"
"""What `SUBMIT` answers when the user has as many unfinished jobs as allowed."""
SUBMIT_STORAGE_QUOTA = "+"
"""How `SUBMIT`'s answer starts when the user's stored output fills its budget; the seconds
until the bucket drains below the budget follow (`+42`)."""
SUBMIT_RATE_LIMITED = "!"
"""How `SUBMIT`'s answer starts when it was to take the request's token and the user's request
bucket is empty: `take_tokens`' remaining tokens, ms until one more, and ms until full follow,
`:`-separated (`!0:95:4000`)."""


def without_seq(event: BaseModel | str) -> str:
    """An event's JSON as the scripts take it: without `seq`, which they prepend, and for
    `job-end` without `output`, which only the record keeps. A str is that JSON already
    (`text_delta_json`)."""
    if isinstance(event, str):
        return event
    if isinstance(event, JobEnd):
        return event.model_dump_json(exclude={"seq", "output"})
    return event.model_dump_json(exclude={"seq"})


def text_delta_json(job_id: str, ts: float, delta: str) -> str:
    """A `text-delta`'s JSON as `without_seq` writes the model's (`TextDelta`, same fields,
    same order, each value through pydantic's own serializer), built without the model: a
    streaming worker writes one per job per coalescing window, and building the model and
    dumping it without its `seq` cost 8 µs against 2."""
    return (
        f'{{"job_id":{to_json(job_id).decode()},"ts":{to_json(ts).decode()},'
        f'"type":"text-delta","delta":{to_json(delta).decode()}}}'
    )


class AppendResult(IntEnum):
    ok = 1
    duplicate = 2
    missing = -1
    ended = -2
    fenced = -3
    regressed = -4


_APPEND = """
local function append(job, events, payload, fields)
  local seq = redis.call('HINCRBY', job, 'seq', 1)
  redis.call('XADD', events, '0-' .. seq, 'e',
             '{"seq":' .. seq .. ',' .. (fields or '') .. string.sub(payload, 2))
  return seq
end
local function drained(bucket, rate)
  local clock = redis.call('TIME')
  local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
  local held = redis.call('HMGET', bucket, 'level', 'at')
  local level = tonumber(held[1] or 0)
  local since = math.max(0, now - tonumber(held[2] or now))
  return math.max(0, level - since * rate), now
end
local function keep(bucket, level, now, rate)
  if level < 1 then
    redis.call('DEL', bucket)
    return
  end
  redis.call('HSET', bucket, 'level', string.format('%.0f', level),
             'at', string.format('%.6f', now))
  redis.call('EXPIRE', bucket, string.format('%d', math.ceil(level / rate) + 1))
end
local function charge(bucket, job, output)
  local quota = redis.call('HMGET', job, 'store_rate', 'store_held')
  local rate = tonumber(quota[1])
  if not rate or rate <= 0 then return end
  local level, now = drained(bucket, rate)
  keep(bucket, math.max(0, level - tonumber(quota[2] or 0)) + #output, now, rate)
  redis.call('HDEL', job, 'store_held')
end
local function finish(job, events, stats, active, stored, status, now, retention, output,
                      usage, err)
  charge(stored, job, output)
  redis.call('HSET', job, 'status', status, 'finished_at', now,
             'output', output, 'usage', usage, 'error', err)
  redis.call('HINCRBY', stats, status, 1)
  if redis.call('DECR', active) <= 0 then redis.call('DEL', active) end
  redis.call('HDEL', job, 'cancel')
  redis.call('EXPIRE', job, retention)
  local log_ttl = tonumber(redis.call('HGET', job, 'log_ttl') or retention)
  redis.call('EXPIRE', events, math.min(log_ttl, tonumber(retention)))
end
local function charge_usage(keys, args)
  -- keys: the owner's usage of the day, its window counter, the shard's accounts of the day
  -- args: model, prompt tokens, completion tokens, the usage's TTL, the window's TTL, account
  redis.call('HINCRBY', keys[1], args[1] .. ':prompt', args[2])
  redis.call('HINCRBY', keys[1], args[1] .. ':completion', args[3])
  redis.call('HINCRBY', keys[1], args[1] .. ':jobs', 1)
  redis.call('EXPIRE', keys[1], args[4])
  local tokens = tonumber(args[2]) + tonumber(args[3])
  if tokens > 0 then
    redis.call('INCRBY', keys[2], string.format('%d', tokens))
    redis.call('EXPIRE', keys[2], args[5])
  end
  redis.call('SADD', keys[3], args[6])
  redis.call('EXPIRE', keys[3], args[4])
end
local function is_terminal(status)
  return status == 'succeeded' or status == 'failed' or status == 'cancelled'
end
"""

_QUEUE = """
-- A pool's queue in one shard (see contracts.queue): waiting jobs by priority, in sorted sets
-- scored by virtual start time; each account's finish tag per priority; a hash of clocks and
-- counts. `state` fields: v:<priority> (the clock), n:<priority>:<account> (waiting jobs),
-- w:<priority> (the summed weights of the accounts with jobs waiting), w:<priority>:<account>
-- (the weight an account added to that sum: taken back as added, whatever weight its last
-- job carries), batch_at (when batch jobs last had their turn or began to wait).
local function count(state, priority, owner, by, weight)
  local field = 'n:' .. priority .. ':' .. owner
  local left = redis.call('HINCRBY', state, field, by)
  if left <= 0 then redis.call('HDEL', state, field) end
  local share = 'w:' .. priority .. ':' .. owner
  if by > 0 and left == 1 then
    redis.call('HSET', state, share, weight)
    redis.call('HINCRBYFLOAT', state, 'w:' .. priority, weight)
  elseif by < 0 and left <= 0 then
    weight = tonumber(redis.call('HGET', state, share) or weight)
    redis.call('HDEL', state, share)
    local sum = tonumber(redis.call('HINCRBYFLOAT', state, 'w:' .. priority, -weight))
    if sum < 1e-9 then redis.call('HDEL', state, 'w:' .. priority) end
  end
  return left
end
-- Once nothing waits at a priority, no finish tag can matter: the clock moves to the latest
-- (start-time fair queuing's rule for an idle server) and the tags go, so the set holds no
-- account that left (accounts with one job each never move the clock).
local function idle(waiting, tags, state, priority)
  if redis.call('ZCARD', waiting) > 0 then return end
  local last = redis.call('ZRANGE', tags, -1, -1, 'WITHSCORES')
  local clock = tonumber(redis.call('HGET', state, 'v:' .. priority) or 0)
  if last[2] and tonumber(last[2]) > clock then
    redis.call('HSET', state, 'v:' .. priority, last[2])
  end
  redis.call('DEL', tags)
  redis.call('HDEL', state, 'w:' .. priority)
end
local function enqueue(waiting, tags, state, priority, owner, weight, id)
  local clock = tonumber(redis.call('HGET', state, 'v:' .. priority) or 0)
  local start = math.max(clock, tonumber(redis.call('ZSCORE', tags, owner) or 0))
  redis.call('ZADD', tags, start + 1 / weight, owner)
  redis.call('ZADD', waiting, start, id)
  count(state, priority, owner, 1, weight)
end
-- A waiting job (virtual start `start`) leaves its queue unserved (cancelled). Its account
-- gets back the turn it held: the tag moves back to `start` if it was the account's latest
-- job, and an account left with nothing waiting owes at most the turn of a job just served
-- (one `1 / weight` past the clock): a cancelled backlog is no debt, and no credit either.
local function withdraw(waiting, tags, state, priority, owner, weight, start)
  local left = count(state, priority, owner, -1, weight)
  local tag = tonumber(redis.call('ZSCORE', tags, owner))
  if tag then
    local clock = tonumber(redis.call('HGET', state, 'v:' .. priority) or 0)
    if left <= 0 then
      tag = math.min(tag, clock + 1 / weight)
    elseif start + 1 / weight >= tag then
      tag = start
    end
    if tag > clock then
      redis.call('ZADD', tags, tag, owner)
    else
      redis.call('ZREM', tags, owner)
    end
  end
  idle(waiting, tags, state, priority)
end
"""

SUBMIT = (
    _APPEND
    + _QUEUE
    + TAKE_TOKENS
    + """
-- KEYS: job, events, the waiting jobs of its pool, shard and priority, user index,
--       idempotency key, user's unfinished jobs, user's stored-output bucket, the waiting
--       jobs of the other priority, the priority's finish tags, the queue's state, the
--       queue's ready stream, the user's request bucket
-- ARGV: id, owner, model, now, queued payload, envelope, idempotency ttl (0: no key),
--       queue cap, the user's limit of unfinished jobs, the log's retention after the end,
--       the listing horizon (seconds: the user index keeps jobs created this recently),
--       the user's budget of stored output (bytes), the bytes to hold until the job ends
--       (its pool's max output), the bucket's drain rate (bytes per second), priority,
--       account, weight, the request bucket's ms per token and burst ('' and '': the caller
--       took the request's token already)
-- Returns the job id (an earlier one for a known idempotency key), '' when the queue is full,
-- '-' when the user has as many unfinished jobs as allowed, '+<seconds>' when the user's
-- stored output fills its budget (the seconds until it drains below), '!<remaining>:<ms
-- until one more>:<ms until full>' when the request bucket is empty. The token is taken
-- first, whatever the answer, as a request's is.
if ARGV[18] ~= '' then
  local token = take_tokens(KEYS[12], tonumber(ARGV[18]), tonumber(ARGV[19]), 1)
  if token[1] == 0 then return string.format('!%d:%d:%d', token[2], token[3], token[4]) end
end
if tonumber(ARGV[7]) > 0 then
  local existing = redis.call('GET', KEYS[5])
  if existing then return existing end
end
local waiting = redis.call('ZCARD', KEYS[3]) + redis.call('ZCARD', KEYS[8])
if waiting >= tonumber(ARGV[8]) then return '' end
if tonumber(redis.call('GET', KEYS[6]) or 0) >= tonumber(ARGV[9]) then return '-' end
local budget, held, rate = tonumber(ARGV[12]), tonumber(ARGV[13]), tonumber(ARGV[14])
local level, clock = drained(KEYS[7], rate)
if level >= budget then
  return '+' .. string.format('%d', math.ceil((level - budget) / rate) + 1)
end
keep(KEYS[7], level + held, clock, rate)
redis.call('INCR', KEYS[6])
if tonumber(ARGV[7]) > 0 then
  redis.call('SET', KEYS[5], ARGV[1], 'EX', ARGV[7])
end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'owner', ARGV[2], 'model', ARGV[3],
           'status', 'queued', 'attempt', 0, 'created_at', ARGV[4], 'seq', 0,
           'log_ttl', ARGV[10], 'store_held', ARGV[13], 'store_rate', ARGV[14],
           'priority', ARGV[15], 'account', ARGV[16], 'weight', ARGV[17], 'envelope', ARGV[6])
if ARGV[15] == 'batch' and redis.call('ZCARD', KEYS[3]) == 0 then
  -- batch aging counts from when a batch job began to wait, not from a turn long ago
  redis.call('HSET', KEYS[10], 'batch_at', ARGV[4])
end
enqueue(KEYS[3], KEYS[9], KEYS[10], ARGV[15], ARGV[16], tonumber(ARGV[17]), ARGV[1])
local position = redis.call('ZRANK', KEYS[3], ARGV[1])
if ARGV[15] == 'batch' then position = position + redis.call('ZCARD', KEYS[8]) end
-- The payload is our own JobQueued JSON (no client text), with `"position":null`.
append(KEYS[1], KEYS[2], (string.gsub(ARGV[5], '"position":null', '"position":' .. position, 1)))
redis.call('XADD', KEYS[11], 'MAXLEN', '1', '*', 'p', ARGV[15])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1])
local horizon = tonumber(ARGV[11])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. (tonumber(ARGV[4]) - horizon))
redis.call('EXPIRE', KEYS[4], horizon)
return ARGV[1]
"""
)

_START_ATTEMPT = """
-- Begins a new attempt of `job` and appends its job-reset (any attempt after the first) and
-- its job-start, in one step; the attempt's appends go on from step 1 or 2. A record whose
-- seq is below `floor` (it lost the end of its log) is first raised to it.
-- Returns {result, attempt, seq of the job-start, steps written, the job's created_at}: or
-- why the job must not run.
local function start_attempt(job, events, worker, now, start, floor, reset)
  if redis.call('EXISTS', job) == 0 then return {-1, 0, 0, 0, '0'} end
  local record = redis.call('HMGET', job, 'status', 'seq', 'created_at')
  if is_terminal(record[1]) then return {-2, 0, 0, 0, '0'} end
  if tonumber(record[2] or 0) < tonumber(floor) then redis.call('HSET', job, 'seq', floor) end
  local attempt = redis.call('HINCRBY', job, 'attempt', 1)
  local fields = '"attempt":' .. attempt .. ','
  local steps = 1
  if attempt > 1 and reset then
    append(job, events, reset, fields)
    steps = 2
  end
  local seq = append(job, events, start, fields)
  redis.call('HSET', job, 'status', 'running', 'worker', worker, 'started_at', now, 'step', steps)
  return {1, attempt, seq, steps, record[3] or '0'}
end
"""

TAKE = (
    _QUEUE
    + _APPEND
    + _START_ATTEMPT
    + """
-- KEYS: the pool's job stream in one shard, its interactive and batch waiting jobs, their
--       finish tags (interactive, batch), the queue's state, the queue's ready stream
-- ARGV: group, consumer, the shard's job key prefix, now, batch aging (seconds), how many
--       jobs to take (1 or more), and to start the jobs read (`start_attempt`, as START
--       does): the worker ('' : read only), the job-start's and the job-reset's JSON (without
--       seq and attempt) with the job id "@", the shard's event log key prefix
-- Moves the next waiting jobs, up to the count (each the lowest virtual start time of the
-- interactive jobs, or of the batch jobs when no interactive one waits or no batch job was
-- served for the aging time: as that many takes one after the other would), into the job
-- stream, and reads as many entries through the group, in one step: a job is never out of
-- both. Jobs that ended while waiting are dropped. Given a worker, each job read begins its
-- attempt in the same step (its entry names it: the `id` field TAKE adds).
-- Returns {entries read, the ready stream's last id ('0-0': none), interactive jobs left
-- waiting, their accounts' weight, batch jobs left, their accounts' weight, then for each
-- entry read: its id, its fields, and START's answer (5 values; result 0: not started)}.
local now, aging, wanted = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local function next_priority()
  local batch = redis.call('ZCARD', KEYS[3]) > 0
  if redis.call('ZCARD', KEYS[2]) == 0 then return batch and 'batch' or nil end
  if batch and now - tonumber(redis.call('HGET', KEYS[6], 'batch_at') or 0) >= aging then
    return 'batch'
  end
  return 'interactive'
end
local moved = 0
for _ = 1, wanted + 15 do
  if moved >= wanted then break end
  local priority = next_priority()
  if not priority then break end
  local waiting, tags = KEYS[2], KEYS[4]
  if priority == 'batch' then waiting, tags = KEYS[3], KEYS[5] end
  local head = redis.call('ZPOPMIN', waiting)
  redis.call('HSET', KEYS[6], 'v:' .. priority, head[2])
  redis.call('ZREMRANGEBYSCORE', tags, '-inf', head[2])
  if priority == 'batch' then redis.call('HSET', KEYS[6], 'batch_at', ARGV[4]) end
  local job = ARGV[3] .. head[1]
  local record = redis.call('HMGET', job, 'status', 'account', 'envelope', 'weight')
  if record[2] then count(KEYS[6], priority, record[2], -1, tonumber(record[4] or 1)) end
  idle(waiting, tags, KEYS[6], priority)
  if record[1] == 'queued' and record[3] then
    redis.call('XADD', KEYS[1], '*', '__data__', record[3], 'id', head[1])
    redis.call('HDEL', job, 'envelope')
    moved = moved + 1
  end
end
local weights = redis.call('HMGET', KEYS[6], 'w:interactive', 'w:batch')
local last = redis.call('XREVRANGE', KEYS[7], '+', '-', 'COUNT', 1)
local answer = {0, last[1] and last[1][1] or '0-0',
                redis.call('ZCARD', KEYS[2]), weights[1] or '0',
                redis.call('ZCARD', KEYS[3]), weights[2] or '0'}
local function start_read(fields)
  if ARGV[7] == '' then return {0, 0, 0, 0, '0'} end
  for i = 1, #fields - 1, 2 do
    if fields[i] == 'id' then
      local id = fields[i + 1]
      local named = '"job_id":"' .. id .. '"'
      return start_attempt(ARGV[3] .. id, ARGV[10] .. id, ARGV[7], ARGV[4],
                           (string.gsub(ARGV[8], '"job_id":"@"', named, 1)), 0,
                           (string.gsub(ARGV[9], '"job_id":"@"', named, 1)))
    end
  end
  return {0, 0, 0, 0, '0'}
end
local read = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', wanted, 'STREAMS',
                        KEYS[1], '>')
for _, entry in ipairs(read and read[1][2] or {}) do
  answer[1] = answer[1] + 1
  local started = start_read(entry[2])
  for _, value in ipairs({entry[1], entry[2], unpack(started)}) do
    answer[#answer + 1] = value
  end
end
return answer
"""
)

START = (
    _APPEND
    + _START_ATTEMPT
    + """
-- KEYS: job, events.  ARGV: worker, now, the job-start's JSON (without seq and attempt),
--       the highest seq the worker was given for the job (floor), and for a job-reset before
--       the job-start (an attempt after the first): its JSON (without seq and attempt)
return start_attempt(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
"""
)

APPEND = (
    _APPEND
    + """
-- KEYS: job, events, pool stats, owner's unfinished jobs, owner's stored-output bucket,
--       and for a job-end: the owner's usage of the day, its quota window's counter, the
--       shard's accounts of the day (see contracts.usage), and when it acknowledges its queue
--       entry: the job's shard job stream
-- ARGV: attempt, payloads (one per line: JSON never holds a raw newline; a job-end comes
--       last), end status ('' unless job-end), now, retention, output, usage, error,
--       step (1, 2, 3 ... within the attempt), floor (the highest seq the worker was given),
--       and for a job-end: the usage charge's six arguments (contracts.usage), then with the
--       job stream: the group, the entry id
-- Returns {result, seq, cancel requested (0/1)}
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, 0, 0} end
local record = redis.call('HMGET', KEYS[1], 'status', 'attempt', 'cancel', 'step', 'seq')
if tonumber(record[2]) ~= tonumber(ARGV[1]) then return {-3, 0, 0} end
if tonumber(ARGV[9]) <= tonumber(record[4] or 0) then
  return {2, 0, record[3] and 1 or 0}
end
if is_terminal(record[1]) then return {-2, 0, 0} end
if tonumber(record[5]) < tonumber(ARGV[10]) then
  redis.call('HSET', KEYS[1], 'seq', ARGV[10])
  return {-4, tonumber(ARGV[10]), record[3] and 1 or 0}
end
redis.call('HSET', KEYS[1], 'step', ARGV[9])
local seq
for payload in string.gmatch(ARGV[2], '[^\\n]+') do seq = append(KEYS[1], KEYS[2], payload) end
if ARGV[3] ~= '' then
  charge_usage({KEYS[6], KEYS[7], KEYS[8]}, {unpack(ARGV, 11, 16)})
  finish(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[3], ARGV[4], ARGV[5], ARGV[6],
         ARGV[7], ARGV[8])
  if KEYS[9] then redis.call('XACK', KEYS[9], ARGV[17], ARGV[18]) end
end
return {1, seq, record[3] and 1 or 0}
"""
)

CANCEL = (
    _APPEND
    + _QUEUE
    + """
-- KEYS: job, events, pool stats, owner's unfinished jobs, owner's stored-output bucket,
--       the pool's interactive and batch waiting jobs in the job's shard, the queue's state,
--       the interactive and batch finish tags
-- ARGV: job-end payload (cancelled), now, retention
-- Returns the status after the call: a queued job ends here (and leaves its queue); a
-- running one is flagged and its worker stops at its next step; an ended one is left alone.
if redis.call('EXISTS', KEYS[1]) == 0 then return '' end
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'queued' then
  local queued = redis.call('HMGET', KEYS[1], 'priority', 'account', 'weight', 'id')
  local waiting, tags = KEYS[6], KEYS[9]
  if queued[1] == 'batch' then waiting, tags = KEYS[7], KEYS[10] end
  local start = redis.call('ZSCORE', waiting, queued[4])
  if queued[2] and start then
    redis.call('ZREM', waiting, queued[4])
    withdraw(waiting, tags, KEYS[8], queued[1], queued[2], tonumber(queued[3] or 1),
             tonumber(start))
  end
  redis.call('HDEL', KEYS[1], 'envelope')
  append(KEYS[1], KEYS[2], ARGV[1])
  finish(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], 'cancelled', ARGV[2], ARGV[3], 'null',
         'null', 'null')
  return 'cancelled'
end
if status == 'running' then
  redis.call('HSET', KEYS[1], 'cancel', 1)
end
return status
"""
)

DELETE = (
    _APPEND
    + """
-- KEYS: job, events, the owner's index of jobs
-- ARGV: owner, id
-- Deletes an ended job of `owner` (its record and its event log) and drops it from the
-- owner's index. Returns 1 when deleted, 0 for a missing job or another owner's, -1 for a
-- job that has not ended (cancel it first: its worker still writes to it).
local record = redis.call('HMGET', KEYS[1], 'owner', 'status')
if record[1] ~= ARGV[1] then return 0 end
if not is_terminal(record[2]) then return -1 end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[2])
return 1
"""
)

DEAD_LETTER = (
    _APPEND
    + """
-- KEYS: job, events, pool stats, owner's unfinished jobs, owner's stored-output bucket,
--       the shard's dead-letter stream, the shard's job stream
-- ARGV: job-end payload (failed), now, retention, error, group, entry id, job id, deliveries,
--       reason, envelope
-- Moves a job stream entry whose job keeps stopping its workers to the dead-letter stream and
-- acknowledges it, and ends its job (failed, with `error`) unless it had ended: a new attempt
-- number fences out any worker still running it. One step: the job, its owner's counters and
-- both streams share the job's shard. Returns 1 if the job ended here, 0 if it had ended,
-- -1 if its record is gone (the entry is moved all the same).
local ended = -1
if redis.call('EXISTS', KEYS[1]) == 1 then
  ended = 0
  if not is_terminal(redis.call('HGET', KEYS[1], 'status')) then
    redis.call('HINCRBY', KEYS[1], 'attempt', 1)
    append(KEYS[1], KEYS[2], ARGV[1])
    finish(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], 'failed', ARGV[2], ARGV[3], 'null',
           'null', ARGV[4])
    ended = 1
  end
end
redis.call('XADD', KEYS[6], '*', 'job_id', ARGV[7], 'message_id', ARGV[6],
           'deliveries', ARGV[8], 'reason', ARGV[9], '__data__', ARGV[10])
redis.call('XACK', KEYS[7], ARGV[5], ARGV[6])
return ended
"""
)

REPLAY = (
    _APPEND
    + _QUEUE
    + """
-- KEYS: job, events, the shard's dead-letter stream of the pool, the pool's interactive and
--       batch waiting jobs in the shard, their finish tags, the queue's state, its ready
--       stream, the owner's unfinished jobs, the owner's stored-output bucket
-- ARGV: the dead-letter entry id, the job id, the bytes to hold until the job ends (its
--       pool's max output), now
-- Queues a dead-lettered job again, as a new attempt of the same job: its record goes back to
-- `queued` with its envelope (from the dead-letter entry), its record and log stop expiring,
-- its owner's counters are charged as a submit charges them (an operator's replay is not
-- refused by the owner's limits), it waits in its queue at its account's fair place, and the
-- dead-letter entry is deleted (the record keeps its id in `replayed`), in one step: a second
-- replay finds nothing. The dead-letter's `job-end` leaves the log; the attempt that runs the
-- job begins with a `job-reset` (START/TAKE), which its clients read after the gap.
-- Returns 'queued', 'gone' (no such dead-letter entry: replayed or dropped already),
-- 'expired' (the job's record expired) or 'not-failed' (the job had ended otherwise).
local dead = redis.call('XRANGE', KEYS[3], ARGV[1], ARGV[1])
if #dead == 0 then return 'gone' end
local fields, envelope, job_id = dead[1][2], nil, nil
for i = 1, #fields - 1, 2 do
  if fields[i] == '__data__' then envelope = fields[i + 1] end
  if fields[i] == 'job_id' then job_id = fields[i + 1] end
end
if job_id ~= ARGV[2] or not envelope then return 'gone' end
if redis.call('EXISTS', KEYS[1]) == 0 then return 'expired' end
local record = redis.call('HMGET', KEYS[1], 'status', 'priority', 'account', 'weight',
                          'store_rate')
if record[1] ~= 'failed' then return 'not-failed' end
local priority = record[2] or 'interactive'
local waiting, tags = KEYS[4], KEYS[6]
if priority == 'batch' then waiting, tags = KEYS[5], KEYS[7] end
redis.call('HSET', KEYS[1], 'status', 'queued', 'envelope', envelope, 'store_held', ARGV[3],
           'replayed', ARGV[1])
redis.call('HDEL', KEYS[1], 'finished_at', 'output', 'usage', 'error', 'worker', 'step')
redis.call('PERSIST', KEYS[1])
redis.call('PERSIST', KEYS[2])
-- The dead-letter's job-end leaves the log (its seq stays used): a log holds one job-end,
-- last, and the gap it leaves is followed by the next attempt's job-reset, as after a loss.
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)[1]
if last and string.find(last[2][2], '"type":"job-end"', 1, true) then
  redis.call('XDEL', KEYS[2], last[1])
end
redis.call('INCR', KEYS[10])
local rate = tonumber(record[5])
if rate and rate > 0 then
  local level, clock = drained(KEYS[11], rate)
  keep(KEYS[11], level + tonumber(ARGV[3]), clock, rate)
end
if priority == 'batch' and redis.call('ZCARD', waiting) == 0 then
  redis.call('HSET', KEYS[8], 'batch_at', ARGV[4])
end
enqueue(waiting, tags, KEYS[8], priority, record[3] or job_id, tonumber(record[4] or 1), job_id)
redis.call('XADD', KEYS[9], 'MAXLEN', '1', '*', 'p', priority)
redis.call('XDEL', KEYS[3], ARGV[1])
return 'queued'
"""
)

DROP = """
-- KEYS: the shard's dead-letter stream of the pool.  ARGV: the entry id.
-- Deletes a dead-letter entry (its job stays failed): 1, or 0 when it was gone already.
return redis.call('XDEL', KEYS[1], ARGV[1])
"""
