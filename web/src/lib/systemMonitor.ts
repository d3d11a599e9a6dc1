/**
 * Polls `/v1/models` and keeps a short history of samples for the System page; while a page
 * asks for it (`retainQueue`), also `/v1/queue`: every pool's waiting jobs by user, which the
 * edge shows its operators only.
 */
import type { PoolQueue } from '../contracts/jobs.gen.ts'
import type { ModelInfo } from '../contracts/models.gen.ts'
import { ApiError, type Api } from './api.ts'
import { asError } from './errors.ts'
import { Observable } from './observable.ts'
import { addSample, sampleOf, type Sample } from './throughput.ts'

/** 'off': no page asks for it; 'forbidden': the edge refused (not an operator), and is not
 * asked again until a page asks anew. */
export type QueueStatus = 'off' | 'loading' | 'ready' | 'forbidden' | 'error'

export interface SystemSnapshot {
  models: ModelInfo[]
  samples: Sample[]
  status: 'loading' | 'ready' | 'error'
  error: Error | undefined
  /** Every pool's waiting jobs, by user (the last list read; kept when a read fails). */
  queue: PoolQueue[]
  queueStatus: QueueStatus
  queueError: Error | undefined
}

export interface SystemMonitorOptions {
  api: Api
  intervalMilliseconds?: number
  keep?: number
  now?: () => number
}

const isForbidden = (error: unknown) => error instanceof ApiError && error.status === 403

export class SystemMonitor extends Observable<SystemSnapshot> {
  private readonly options: Required<SystemMonitorOptions>
  private timer: ReturnType<typeof setTimeout> | undefined
  /** Bumped by every start and stop: a poll from an earlier run stops after its await. */
  private generation = 0
  private running = false
  private holders = 0
  private queueHolders = 0

  constructor(options: SystemMonitorOptions) {
    super({
      models: [],
      samples: [],
      status: 'loading',
      error: undefined,
      queue: [],
      queueStatus: 'off',
      queueError: undefined,
    })
    this.options = { intervalMilliseconds: 2000, keep: 60, now: Date.now, ...options }
  }

  /** Polls while anyone holds it: `start` on the first hold, `stop` when the last is let go. */
  retain(): () => void {
    this.holders += 1
    this.start()
    return this.releaser(() => {
      this.holders -= 1
      if (this.holders === 0) this.stop()
    })
  }

  /** Like `retain`, and polls the queue by user too while held. */
  retainQueue(): () => void {
    const release = this.retain()
    this.queueHolders += 1
    if (this.queueHolders === 1) {
      this.publish({ queueStatus: 'loading', queueError: undefined })
      void this.readQueue(this.generation)
    }
    return this.releaser(() => {
      this.queueHolders -= 1
      if (this.queueHolders === 0) {
        this.publish({ queue: [], queueStatus: 'off', queueError: undefined })
      }
      release()
    })
  }

  start(): void {
    if (this.running) return
    this.running = true
    this.generation += 1
    void this.poll(this.generation)
  }

  stop(): void {
    this.running = false
    this.generation += 1
    clearTimeout(this.timer)
  }

  private releaser(release: () => void): () => void {
    let held = true
    return () => {
      if (!held) return
      held = false
      release()
    }
  }

  private isCurrent(generation: number): boolean {
    return this.running && generation === this.generation
  }

  private async poll(generation: number): Promise<void> {
    await Promise.all([this.readModels(generation), this.readQueue(generation)])
    if (this.isCurrent(generation)) {
      this.timer = setTimeout(() => this.poll(generation), this.options.intervalMilliseconds)
    }
  }

  private async readModels(generation: number): Promise<void> {
    try {
      const list = await this.options.api.listModels()
      if (!this.isCurrent(generation)) return
      const sample = sampleOf(list.data, this.options.now())
      const samples = addSample(this.snapshot.samples, sample, this.options.keep)
      this.publish({ models: list.data, samples, status: 'ready', error: undefined })
    } catch (error) {
      if (!this.isCurrent(generation)) return
      // A failed poll keeps the last list: workers come and go, the page stays useful.
      this.publish({ status: 'error', error: asError(error) })
    }
  }

  private async readQueue(generation: number): Promise<void> {
    if (this.queueHolders === 0 || this.snapshot.queueStatus === 'forbidden') return
    try {
      const report = await this.options.api.getQueue()
      if (!this.isCurrent(generation) || this.queueHolders === 0) return
      this.publish({ queue: report.data, queueStatus: 'ready', queueError: undefined })
    } catch (error) {
      if (!this.isCurrent(generation) || this.queueHolders === 0) return
      if (isForbidden(error)) {
        this.publish({ queue: [], queueStatus: 'forbidden', queueError: undefined })
      } else {
        this.publish({ queueStatus: 'error', queueError: asError(error) })
      }
    }
  }
}
