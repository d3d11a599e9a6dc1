/** Polls `/v1/models` and keeps a short history of samples for the System page. */
import type { ModelInfo } from '../contracts/models.gen.ts'
import type { Api } from './api.ts'
import { asError } from './errors.ts'
import { Observable } from './observable.ts'
import { addSample, sampleOf, type Sample } from './throughput.ts'

export interface SystemSnapshot {
  models: ModelInfo[]
  samples: Sample[]
  status: 'loading' | 'ready' | 'error'
  error: Error | undefined
}

export interface SystemMonitorOptions {
  api: Api
  intervalMilliseconds?: number
  keep?: number
  now?: () => number
}

export class SystemMonitor extends Observable<SystemSnapshot> {
  private readonly options: Required<SystemMonitorOptions>
  private timer: ReturnType<typeof setTimeout> | undefined
  /** Bumped by every start and stop: a poll from an earlier run stops after its await. */
  private generation = 0
  private running = false
  private holders = 0

  constructor(options: SystemMonitorOptions) {
    super({ models: [], samples: [], status: 'loading', error: undefined })
    this.options = { intervalMilliseconds: 2000, keep: 60, now: Date.now, ...options }
  }

  /** Polls while anyone holds it: `start` on the first hold, `stop` when the last is let go. */
  retain(): () => void {
    this.holders += 1
    this.start()
    let held = true
    return () => {
      if (!held) return
      held = false
      this.holders -= 1
      if (this.holders === 0) this.stop()
    }
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

  private async poll(generation: number): Promise<void> {
    const current = () => this.running && generation === this.generation
    try {
      const list = await this.options.api.listModels()
      if (!current()) return
      const sample = sampleOf(list.data, this.options.now())
      const samples = addSample(this.snapshot.samples, sample, this.options.keep)
      this.publish({ models: list.data, samples, status: 'ready', error: undefined })
    } catch (error) {
      if (!current()) return
      // A failed poll keeps the last list: workers come and go, the page stays useful.
      this.publish({ status: 'error', error: asError(error) })
    }
    if (current()) {
      this.timer = setTimeout(() => this.poll(generation), this.options.intervalMilliseconds)
    }
  }
}
