/**
 * The user's jobs, newest first: the list comes from `GET /v1/jobs` (its first page refreshed
 * on an interval, sooner while a listed job waits so its place in the queue stays fresh,
 * after a submit and when a followed job ends; older pages loaded on demand with `loadOlder`
 * and kept across refreshes, their waiting jobs' records read again); every job that has not
 * ended is followed live over the tab's WebSocket, for its status and progress.
 */
import type { JobRecord, JobRequest } from '../contracts/jobs.gen.ts'
import { asError } from './errors.ts'
import { QUEUED_REFRESH_MILLISECONDS, statusOf } from './jobView.ts'
import { Observable } from './observable.ts'
import { isSettled, isTerminal, type JobState } from './reducer.ts'
import type { RelayClient } from './relayClient.ts'

export interface JobListItem {
  record: JobRecord
  live: JobState | undefined
}

export interface JobsSnapshot {
  jobs: JobListItem[]
  status: 'loading' | 'ready' | 'error'
  error: Error | undefined
  /** Whether `loadOlder` has more jobs to give. */
  hasOlder: boolean
}

export interface JobsFeedOptions {
  client: RelayClient
  limit?: number
  refreshMilliseconds?: number
  /** The refresh interval while a listed job waits (its place in the queue moves). */
  queuedRefreshMilliseconds?: number
}

/** Waiting jobs of older pages whose records are read again per refresh. */
export const OLDER_READS = 5

export class JobsFeed extends Observable<JobsSnapshot> {
  private readonly client: RelayClient
  private readonly limit: number
  private readonly refreshMilliseconds: number
  private readonly queuedRefreshMilliseconds: number
  private records: JobRecord[] = []
  /** Jobs of the pages after the first, loaded by `loadOlder`. */
  private older: JobRecord[] = []
  /** `next_cursor` of the last page read: where `loadOlder` goes on (null: no more). */
  private cursor: string | null = null
  private readonly followed = new Map<string, () => void>()
  private timer: ReturnType<typeof setTimeout> | undefined
  private users = 0

  constructor({
    client,
    limit = 50,
    refreshMilliseconds = 5000,
    queuedRefreshMilliseconds = QUEUED_REFRESH_MILLISECONDS,
  }: JobsFeedOptions) {
    super({ jobs: [], status: 'loading', error: undefined, hasOlder: false })
    this.client = client
    this.limit = limit
    this.refreshMilliseconds = refreshMilliseconds
    this.queuedRefreshMilliseconds = queuedRefreshMilliseconds
  }

  /** Starts loading and following; each `start` needs its own `stop`. */
  start(): void {
    this.users += 1
    if (this.users === 1) void this.refresh()
  }

  stop(): void {
    this.users = Math.max(0, this.users - 1)
    if (this.users > 0) return
    clearTimeout(this.timer)
    for (const release of this.followed.values()) release()
    this.followed.clear()
  }

  async refresh(): Promise<void> {
    clearTimeout(this.timer)
    try {
      const list = await this.client.api.listJobs({ limit: this.limit })
      const previous = this.records
      this.records = list.data
      if (this.older.length === 0) {
        this.cursor = list.next_cursor
      } else {
        // Jobs pushed off the first page by newer ones stay listed, ahead of the older ones.
        const first = new Set(this.records.map((record) => record.id))
        this.older = [...previous, ...this.older].filter((record) => !first.has(record.id))
      }
      await this.rereadOlderWaiting()
      this.follow()
      this.publish({
        jobs: this.items(),
        status: 'ready',
        error: undefined,
        hasOlder: this.cursor !== null,
      })
    } catch (error) {
      this.publish({ status: 'error', error: asError(error) })
    }
    if (this.users > 0) this.timer = setTimeout(() => this.refresh(), this.refreshDelay())
  }

  /** Sooner while a listed job waits: its record carries its place in the queue. */
  private refreshDelay(): number {
    const waiting = [...this.records, ...this.older].some((record) => this.isWaiting(record))
    return waiting ? this.queuedRefreshMilliseconds : this.refreshMilliseconds
  }

  private isWaiting(record: JobRecord): boolean {
    return statusOf(record, this.client.getJob(record.id)) === 'queued'
  }

  /** The first page's records come with the list; waiting jobs of older pages are read one by
   * one, at most OLDER_READS a refresh (those nearest the front of the queue first), so a
   * long batch costs few requests. A failed read keeps the record it had. */
  private async rereadOlderWaiting(): Promise<void> {
    const front = (record: JobRecord) => record.position ?? Number.MAX_SAFE_INTEGER
    const waiting = this.older
      .filter((record) => this.isWaiting(record))
      .sort((left, right) => front(left) - front(right))
      .slice(0, OLDER_READS)
    if (waiting.length === 0) return
    const reads = await Promise.allSettled(
      waiting.map((record) => this.client.api.getJob(record.id)),
    )
    const fresh = new Map<string, JobRecord>()
    for (const read of reads) if (read.status === 'fulfilled') fresh.set(read.value.id, read.value)
    this.older = this.older.map((record) => fresh.get(record.id) ?? record)
  }

  /** Loads the next page of older jobs (nothing when there is none). */
  async loadOlder(): Promise<void> {
    if (this.cursor === null) return
    try {
      const list = await this.client.api.listJobs({ limit: this.limit, cursor: this.cursor })
      const known = new Set([...this.records, ...this.older].map((record) => record.id))
      this.older.push(...list.data.filter((record) => !known.has(record.id)))
      this.cursor = list.next_cursor
      this.follow()
      this.publish({ jobs: this.items(), error: undefined, hasOlder: this.cursor !== null })
    } catch (error) {
      this.publish({ error: asError(error) })
    }
  }

  /** Submits every request (a batch of prompts is one job per prompt); returns the ids. */
  async submit(requests: JobRequest[]): Promise<string[]> {
    try {
      const accepted = await Promise.all(requests.map((request) => this.client.submit(request)))
      return accepted.map((job) => job.id)
    } catch (error) {
      this.publish({ error: asError(error) })
      throw error
    } finally {
      await this.refresh()
    }
  }

  async cancel(jobId: string): Promise<void> {
    try {
      await this.client.cancel(jobId)
    } catch (error) {
      this.publish({ error: asError(error) })
    }
  }

  private follow(): void {
    if (this.users === 0) return
    for (const record of [...this.records, ...this.older]) {
      if (isTerminal(record.status) || this.followed.has(record.id)) continue
      const release = this.client.watchJob(record.id)
      const unsubscribe = this.client.subscribeJob(record.id, () => this.onJob(record.id))
      this.followed.set(record.id, () => (unsubscribe(), release()))
    }
  }

  private onJob(jobId: string): void {
    const live = this.client.getJob(jobId)
    this.publish({ jobs: this.items() })
    if (live && isSettled(live)) {
      this.followed.get(jobId)?.()
      this.followed.delete(jobId)
      // The final record (output, usage, finished_at) comes with the list.
      void this.refresh()
    }
  }

  private items(): JobListItem[] {
    return [...this.records, ...this.older].map((record) => ({
      record,
      live: this.client.getJob(record.id),
    }))
  }
}
