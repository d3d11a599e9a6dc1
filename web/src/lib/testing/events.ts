/** Event factories for tests. */
import type { Event } from '../../contracts/events.gen.ts'
import type { JobRecord } from '../../contracts/jobs.gen.ts'
import type { WireError } from '../../contracts/wire.gen.ts'

const base = (jobId: string, seq: number) => ({ job_id: jobId, seq, ts: 1_700_000_000 + seq })

export const queued = (jobId: string, seq = 1): Event => ({
  ...base(jobId, seq),
  type: 'job-queued',
  position: null,
})

export const started = (jobId: string, seq: number, attempt = 1): Event => ({
  ...base(jobId, seq),
  type: 'job-start',
  attempt,
  worker: 'worker-1',
})

export const delta = (jobId: string, seq: number, text: string): Event => ({
  ...base(jobId, seq),
  type: 'text-delta',
  delta: text,
})

export const progress = (jobId: string, seq: number, done: number, total: number): Event => ({
  ...base(jobId, seq),
  type: 'progress',
  done,
  total,
})

export const reset = (jobId: string, seq: number, attempt: number): Event => ({
  ...base(jobId, seq),
  type: 'job-reset',
  attempt,
  reason: 'worker lost',
})

export const ended = (
  jobId: string,
  seq: number,
  status: 'succeeded' | 'failed' | 'cancelled' = 'succeeded',
  output: unknown = null,
): Event => ({
  ...base(jobId, seq),
  type: 'job-end',
  status,
  output,
  usage: null,
  error: status === 'failed' ? { code: 'engine_error', message: 'the model broke' } : null,
})

/** The edge's answer to a subscribe for a job it has no log of. */
export const notFound = (jobId: string): WireError => ({
  type: 'error',
  code: 'job_not_found',
  message: `no job ${jobId}`,
  job_id: jobId,
  ref: null,
  record: null,
})

/** The edge's answer to a subscribe for a job whose log expired: its final record. */
export const expired = (jobId: string, record: JobRecord): WireError => ({
  type: 'error',
  code: 'events_expired',
  message: `the events of job ${jobId} have expired`,
  job_id: jobId,
  ref: null,
  record,
})

/** A whole chat job: queued, start, one delta per word, end. */
export function chatEvents(jobId: string, words: string[]): Event[] {
  const text = words.join('')
  return [
    queued(jobId),
    started(jobId, 2),
    ...words.map((word, index) => delta(jobId, 3 + index, word)),
    ended(jobId, 3 + words.length, 'succeeded', { text, finish_reason: 'length' }),
  ]
}
