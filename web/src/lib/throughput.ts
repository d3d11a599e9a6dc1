/** Samples of the pools over time, and the rates derived from them (pure functions). */
import type { ModelInfo } from '../contracts/models.gen.ts'

export interface Sample {
  /** Epoch milliseconds. */
  at: number
  /** Per pool: jobs ended so far, jobs waiting, live workers. */
  pools: Record<string, { done: number; queued: number; workers: number }>
}

export function sampleOf(models: readonly ModelInfo[], at: number): Sample {
  const pools: Sample['pools'] = {}
  for (const model of models) {
    pools[model.id] = { done: model.done, queued: model.queued, workers: model.workers }
  }
  return { at, pools }
}

/** Appends a sample, keeping the newest `keep`. */
export function addSample(samples: readonly Sample[], sample: Sample, keep = 60): Sample[] {
  return [...samples, sample].slice(-keep)
}

function doneOf(sample: Sample, pool?: string): number {
  const entries = pool === undefined ? Object.values(sample.pools) : [sample.pools[pool]]
  return entries.reduce((total, entry) => total + (entry?.done ?? 0), 0)
}

/** Jobs ended per second between two samples (0 when a counter went backwards: a restart). */
export function rateBetween(earlier: Sample, later: Sample, pool?: string): number {
  const seconds = (later.at - earlier.at) / 1000
  if (seconds <= 0) return 0
  return Math.max(0, doneOf(later, pool) - doneOf(earlier, pool)) / seconds
}

/** Jobs ended per second over the last `windowMilliseconds` of samples. */
export function recentThroughput(
  samples: readonly Sample[],
  pool?: string,
  windowMilliseconds = 10_000,
): number {
  const last = samples.at(-1)
  if (!last) return 0
  const first = samples.find((sample) => last.at - sample.at <= windowMilliseconds) ?? last
  return rateBetween(first, last, pool)
}

/** Jobs per second between consecutive samples: the points of a chart. */
export function throughputSeries(samples: readonly Sample[]): number[] {
  return samples.slice(1).map((sample, index) => rateBetween(samples[index], sample))
}

export function queuedSeries(samples: readonly Sample[]): number[] {
  return samples.map((sample) =>
    Object.values(sample.pools).reduce((total, pool) => total + pool.queued, 0),
  )
}
