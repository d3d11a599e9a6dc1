/**
 * A pure reducer from a job's events to its state. Events are applied strictly in seq order:
 * a duplicate (seq already applied) changes nothing and returns the same object; an event
 * that arrives ahead of a missing seq waits in `pending` until the gap is filled, so
 * `text` always holds exactly the events up to `lastSeq`. That pair is what a client
 * persists and resumes from (`subscribe` with `after: lastSeq`).
 */
import type { ErrorDetail, Event, Usage } from '../contracts/events.gen.ts'
import type { JobStatus } from '../contracts/jobs.gen.ts'

/** 'live' while the stream can be followed; 'lost' when its log was gone on resume;
 * 'not-found' when the job never was ours to see. */
export type Recovery = 'live' | 'lost' | 'not-found'

export interface JobState {
  jobId: string
  status: JobStatus | 'unknown'
  attempt: number
  worker: string | null
  text: string
  progress: { done: number; total: number } | null
  output: unknown
  usage: Usage | null
  error: ErrorDetail | null
  /** The last seq applied: every event up to it, none after it. */
  lastSeq: number
  /** Events received ahead of a gap, sorted by seq. */
  pending: Event[]
  /** The most recent events, for a live log view. */
  events: Event[]
  /** How many times an attempt was dropped for a new one. */
  resets: number
  recovery: Recovery
}

export const RECENT_EVENTS = 200
export const MAX_PENDING = 1000

const TERMINAL: ReadonlySet<string> = new Set(['succeeded', 'failed', 'cancelled'])

export function isTerminal(status: JobState['status']): boolean {
  return TERMINAL.has(status)
}

/** Nothing more will arrive for this job: it ended, or it could not be followed. */
export function isSettled(state: JobState): boolean {
  return state.recovery !== 'live' || isTerminal(state.status)
}

export function initialJobState(jobId: string, seed: Partial<JobState> = {}): JobState {
  return {
    jobId,
    status: 'unknown',
    attempt: 0,
    worker: null,
    text: '',
    progress: null,
    output: null,
    usage: null,
    error: null,
    lastSeq: 0,
    pending: [],
    events: [],
    resets: 0,
    recovery: 'live',
    ...seed,
  }
}

/** True when events are waiting for a missing seq: the stream should be re-read from lastSeq. */
export function hasGap(state: JobState): boolean {
  return state.pending.length > 0
}

function apply(state: JobState, event: Event): JobState {
  const events = [...state.events, event].slice(-RECENT_EVENTS)
  const next: JobState = { ...state, lastSeq: event.seq, events }
  const running = state.status === 'unknown' || state.status === 'queued' ? 'running' : state.status
  switch (event.type) {
    case 'job-queued':
      return state.status === 'unknown' ? { ...next, status: 'queued' } : next
    case 'job-start':
      return { ...next, status: 'running', attempt: event.attempt, worker: event.worker }
    case 'text-delta':
      return { ...next, status: running, text: state.text + event.delta }
    case 'progress':
      return { ...next, status: running, progress: { done: event.done, total: event.total } }
    case 'job-reset':
      return {
        ...next,
        status: 'running',
        attempt: event.attempt,
        text: '',
        progress: null,
        output: null,
        usage: null,
        error: null,
        resets: state.resets + 1,
      }
    case 'job-end':
      return {
        ...next,
        status: event.status,
        output: event.output,
        usage: event.usage,
        error: event.error,
      }
  }
}

function insertPending(pending: Event[], event: Event): Event[] {
  if (pending.some((waiting) => waiting.seq === event.seq)) return pending
  const sorted = [...pending, event].sort((left, right) => left.seq - right.seq)
  // Bounded: the furthest events are dropped first; a re-read brings them back.
  return sorted.slice(0, MAX_PENDING)
}

/** The state after `event`. Returns `state` itself when the event changes nothing. */
export function reduceJob(state: JobState, event: Event): JobState {
  if (event.job_id !== state.jobId || event.seq <= state.lastSeq) return state
  if (event.seq > state.lastSeq + 1) {
    const pending = insertPending(state.pending, event)
    return pending === state.pending ? state : { ...state, pending }
  }
  let next = apply(state, event)
  let pending = state.pending.filter((waiting) => waiting.seq > next.lastSeq)
  while (pending.length > 0 && pending[0].seq === next.lastSeq + 1) {
    next = apply(next, pending[0])
    pending = pending.slice(1)
  }
  return { ...next, pending }
}

export function reduceJobEvents(state: JobState, events: readonly Event[]): JobState {
  return events.reduce(reduceJob, state)
}

/** The edge answered `job_not_found` to a subscribe: the log expired, or it is not ours. */
export function markMissing(state: JobState): JobState {
  const recovery: Recovery = state.lastSeq > 0 || state.text !== '' ? 'lost' : 'not-found'
  return { ...state, recovery, pending: [] }
}
