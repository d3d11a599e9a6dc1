/** What a job looks like to the user: its record (HTTP) merged with its live state (stream). */
import type { ErrorDetail, Usage } from '../contracts/events.gen.ts'
import type { JobRecord, JobStatus } from '../contracts/jobs.gen.ts'
import { isTerminal, type JobState } from './reducer.ts'

export function statusOf(record: JobRecord | undefined, live: JobState | undefined): JobStatus {
  if (live && live.status !== 'unknown') {
    // The stream is ahead of a record fetched earlier, unless the record already ended.
    if (!record || !isTerminal(record.status)) return live.status
  }
  return record?.status ?? 'queued'
}

/** Progress from 0 to 1, or null when it cannot be known (a chat answer being written). */
export function progressOf(
  record: JobRecord | undefined,
  live: JobState | undefined,
): number | null {
  const status = statusOf(record, live)
  if (status === 'succeeded') return 1
  const progress = live?.progress
  const fraction = progress && progress.total > 0 ? progress.done / progress.total : undefined
  if (status === 'running') return fraction ?? null
  return fraction ?? 0
}

/** How often the record of a waiting job is read again, for its place in the queue. */
export const QUEUED_REFRESH_MILLISECONDS = 2000

/** While the job waits: how many jobs its pool serves before it (0: next), from its record;
 * null once it runs (the stream may be ahead of the record) or when the edge did not say. */
export function positionOf(
  record: JobRecord | undefined,
  live: JobState | undefined,
): number | null {
  if (!record || statusOf(record, live) !== 'queued') return null
  return record.position
}

/** "next", "1 ahead", "3 ahead". */
export function positionLabel(position: number): string {
  return position === 0 ? 'next' : `${position} ahead`
}

export function outputOf(record: JobRecord | undefined, live: JobState | undefined): unknown {
  return live?.output ?? record?.output ?? null
}

export interface EmbeddingsOutput {
  embeddings: number[][]
  dimensions: number
}

export function isEmbeddingsOutput(output: unknown): output is EmbeddingsOutput {
  return (
    typeof output === 'object' &&
    output !== null &&
    'embeddings' in output &&
    Array.isArray(output.embeddings) &&
    'dimensions' in output &&
    typeof output.dimensions === 'number'
  )
}

/** The `text` of a chat job's output, if it has one. */
export function outputText(output: unknown): string | undefined {
  if (typeof output !== 'object' || output === null || !('text' in output)) return undefined
  return typeof output.text === 'string' ? output.text : undefined
}

/** The text of a chat job: streamed so far, or the final output. */
export function textOf(record: JobRecord | undefined, live: JobState | undefined): string {
  if (live && live.text !== '') return live.text
  return outputText(outputOf(record, live)) ?? ''
}

export function formatTime(seconds: number | null | undefined): string {
  if (!seconds) return '—'
  return new Date(seconds * 1000).toLocaleTimeString()
}

export const shortId = (jobId: string): string => jobId.slice(0, 8)

/** The non-empty lines of a text box, trimmed. */
export function linesOf(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
}

/** The edge answered `events_expired` to a subscribe: the job ended long ago and its log is
 * gone, but its record holds the end. The job is settled from the record; text streamed
 * before stays only when the record has none to replace it. */
export function settleFromRecord(state: JobState, record: JobRecord): JobState {
  return {
    ...state,
    status: record.status,
    attempt: record.attempt,
    worker: record.worker,
    text: outputText(record.output) ?? state.text,
    output: record.output,
    usage: (record.usage as Usage | null) ?? null,
    error: (record.error as ErrorDetail | null) ?? null,
    lastSeq: Math.max(state.lastSeq, record.last_seq),
    pending: [],
  }
}
