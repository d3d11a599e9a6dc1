/** Polls `/v1/models` and keeps a short history of samples for the System page. */
import type { ModelInfo } from '../contracts/models.gen.ts'
import type { Api } from './api.ts'
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
  private running = false

  constructor(options: SystemMonitorOptions) {
    super({ models: [], samples: [], status: 'loading', error: undefined })
    this.options = { intervalMilliseconds: 2000, keep: 60, now: Date.now, ...options }
  }

  start(): void {
    if (this.running) return
    this.running = true
    void this.poll()
  }

  stop(): void {
    this.running = false
    clearTimeout(this.timer)
  }

  private async poll(): Promise<void> {
    try {
      const list = await this.options.api.listModels()
      if (!this.running) return
      const sample = sampleOf(list.data, this.options.now())
      const samples = addSample(this.snapshot.samples, sample, this.options.keep)
      this.publish({ models: list.data, samples, status: 'ready', error: undefined })
    } catch (error) {
      if (!this.running) return
      // A failed poll keeps the last list: workers come and go, the page stays useful.
      const failure = error instanceof Error ? error : new Error(String(error))
      this.publish({ status: 'error', error: failure })
    }
    if (this.running) {
      this.timer = setTimeout(() => this.poll(), this.options.intervalMilliseconds)
    }
  }
}
