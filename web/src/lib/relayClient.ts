/**
 * The tab's client: HTTP calls, the one WebSocket, and the state of every job it follows.
 *
 * Events are queued as they arrive and applied once per animation frame, so a fast stream
 * causes one state change (and one render) per frame, not one per token. Following is
 * reference-counted: many views of one job share one subscription.
 */
import type { JobAccepted, JobRecord, JobRequest } from '../contracts/jobs.gen.ts'
import { api as edgeApi, type Api } from './api.ts'
import { RelayConnection } from './connection.ts'
import { FrameBatcher, type FrameScheduler } from './frames.ts'
import { settleFromRecord } from './jobView.ts'
import type { RelayEvent, WireError } from './protocol.ts'
import {
  hasGap,
  initialJobState,
  isTerminal,
  markMissing,
  reduceJobEvents,
  type JobState,
} from './reducer.ts'

export interface RelayClientOptions {
  api?: Api
  connection?: RelayConnection
  /** When queued events are applied; default: the next animation frame. */
  schedule?: FrameScheduler
  /** Wait before asking again after a transient error answer (redis_unavailable…). */
  retryMilliseconds?: number
}

interface JobEntry {
  state: JobState
  queue: RelayEvent[]
  listeners: Set<() => void>
  watchers: number
  /** The lastSeq at which a gap was last reported, so one gap asks for one re-read. */
  repairedAt: number
}

export class RelayClient {
  readonly api: Api
  readonly connection: RelayConnection
  private readonly entries = new Map<string, JobEntry>()
  private readonly dirty = new Set<string>()
  private readonly batcher: FrameBatcher
  private readonly retryMilliseconds: number

  constructor(options: RelayClientOptions = {}) {
    this.api = options.api ?? edgeApi
    this.connection = options.connection ?? new RelayConnection()
    this.batcher = new FrameBatcher(() => this.flush(), options.schedule)
    this.retryMilliseconds = options.retryMilliseconds ?? 2000
  }

  /** The job's state, or undefined before anything is known of it. Stable between changes. */
  getJob = (jobId: string): JobState | undefined => this.entries.get(jobId)?.state

  subscribeJob(jobId: string, listener: () => void): () => void {
    const entry = this.entry(jobId)
    entry.listeners.add(listener)
    return () => {
      entry.listeners.delete(listener)
      this.prune(jobId, entry)
    }
  }

  /**
   * Follows the job until released. `seed` is what the caller already holds (a reloaded
   * answer: its text and seq); the stream continues after it.
   */
  watchJob(jobId: string, seed?: Partial<JobState>): () => void {
    const entry = this.entry(jobId)
    if (seed && (seed.lastSeq ?? 0) > entry.state.lastSeq) {
      entry.state = initialJobState(jobId, seed)
      this.notify(entry)
    }
    entry.watchers += 1
    this.follow(jobId, entry)
    this.connection.start()
    let released = false
    return () => {
      if (released) return
      released = true
      entry.watchers -= 1
      if (entry.watchers === 0) this.connection.unwatch(jobId)
      this.prune(jobId, entry)
    }
  }

  submit(request: JobRequest): Promise<JobAccepted> {
    return this.api.submitJob(request)
  }

  /** Cancels the job; its `job-end` (cancelled) reaches every watcher through the stream. */
  cancel(jobId: string): Promise<JobRecord> {
    return this.api.cancelJob(jobId)
  }

  private entry(jobId: string): JobEntry {
    let entry = this.entries.get(jobId)
    if (!entry) {
      entry = {
        state: initialJobState(jobId),
        queue: [],
        listeners: new Set(),
        watchers: 0,
        repairedAt: -1,
      }
      this.entries.set(jobId, entry)
    }
    return entry
  }

  private follow(jobId: string, entry: JobEntry): void {
    const { state } = entry
    if (isTerminal(state.status) || state.recovery !== 'live') return
    if (this.connection.isWatching(jobId)) return
    this.connection.watch(jobId, {
      after: () => entry.state.lastSeq,
      onEvent: (event) => this.receive(jobId, entry, event),
      onError: (error) => this.failed(jobId, entry, error),
    })
  }

  private receive(jobId: string, entry: JobEntry, event: RelayEvent): void {
    entry.queue.push(event)
    this.dirty.add(jobId)
    this.batcher.request()
  }

  private failed(jobId: string, entry: JobEntry, error: WireError): void {
    if (error.code === 'events_expired' && error.record) {
      this.connection.unwatch(jobId, false)
      entry.queue = []
      entry.state = settleFromRecord(entry.state, error.record)
      this.notify(entry)
      return
    }
    if (error.code === 'job_not_found') {
      this.connection.unwatch(jobId, false)
      entry.queue = []
      entry.state = markMissing(entry.state)
      this.notify(entry)
      return
    }
    // Transient (the edge could not reach Redis…): ask again shortly.
    setTimeout(() => this.connection.resubscribe(jobId), this.retryMilliseconds)
  }

  private flush(): void {
    const jobIds = [...this.dirty]
    this.dirty.clear()
    for (const jobId of jobIds) {
      const entry = this.entries.get(jobId)
      if (!entry) continue
      const next = reduceJobEvents(entry.state, entry.queue)
      entry.queue = []
      if (next === entry.state) continue
      entry.state = next
      if (isTerminal(next.status)) {
        // The edge ends a subscription after job-end.
        this.connection.unwatch(jobId, false)
      } else if (hasGap(next) && entry.repairedAt !== next.lastSeq) {
        entry.repairedAt = next.lastSeq
        this.connection.resubscribe(jobId)
      }
      this.notify(entry)
    }
  }

  private notify(entry: JobEntry): void {
    for (const listener of [...entry.listeners]) listener()
  }

  /** Forgets a job nobody looks at, so a long session does not keep every job it saw. */
  private prune(jobId: string, entry: JobEntry): void {
    if (entry.watchers > 0 || entry.listeners.size > 0) return
    this.entries.delete(jobId)
    this.dirty.delete(jobId)
  }
}
