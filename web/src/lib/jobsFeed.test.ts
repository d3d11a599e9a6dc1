import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { queued, started } from './testing/events.ts'
import { record } from './testing/fakeApi.ts'
import { createHarness } from './testing/harness.ts'
import { JobsFeed } from './jobsFeed.ts'

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

function feedOf(harness: ReturnType<typeof createHarness>) {
  return new JobsFeed({
    client: harness.client,
    refreshMilliseconds: 5000,
    queuedRefreshMilliseconds: 1000,
  })
}

describe('JobsFeed refresh', () => {
  it('reads the list sooner only while one of its jobs waits', async () => {
    const harness = createHarness()
    harness.jobs.set('job-1', record('job-1', { position: 4 }))
    const feed = feedOf(harness)
    feed.start()
    await vi.advanceTimersByTimeAsync(0)
    expect(feed.getSnapshot().jobs[0].record.position).toBe(4)

    harness.jobs.set('job-1', record('job-1', { position: 1 }))
    await vi.advanceTimersByTimeAsync(3000)
    expect(harness.api.listJobs).toHaveBeenCalledTimes(4)
    expect(feed.getSnapshot().jobs[0].record.position).toBe(1)

    // The stream says it started: no job waits any more.
    harness.server.last.open()
    harness.server.last.emit(queued('job-1'))
    harness.server.last.emit(started('job-1', 2))
    harness.frames.run()
    await vi.advanceTimersByTimeAsync(1000)
    expect(harness.api.listJobs).toHaveBeenCalledTimes(5)
    await vi.advanceTimersByTimeAsync(4900)
    expect(harness.api.listJobs).toHaveBeenCalledTimes(5)
    await vi.advanceTimersByTimeAsync(100)
    expect(harness.api.listJobs).toHaveBeenCalledTimes(6)
    feed.stop()
  })

  it('keeps its usual interval when nothing waits', async () => {
    const harness = createHarness()
    harness.jobs.set('done-1', record('done-1', { status: 'succeeded' }))
    harness.jobs.set('running-1', record('running-1', { status: 'running' }))
    const feed = feedOf(harness)
    feed.start()
    await vi.advanceTimersByTimeAsync(9999)
    expect(harness.api.listJobs).toHaveBeenCalledTimes(2)
    feed.stop()
    await vi.advanceTimersByTimeAsync(20_000)
    expect(harness.api.listJobs).toHaveBeenCalledTimes(2)
  })
})
