import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { queued, started } from './testing/events.ts'
import { record } from './testing/fakeApi.ts'
import { createHarness } from './testing/harness.ts'
import { JobsFeed, OLDER_READS } from './jobsFeed.ts'

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

function feedOf(harness: ReturnType<typeof createHarness>, limit = 50) {
  return new JobsFeed({
    client: harness.client,
    limit,
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
  it('reads the records of waiting jobs on older pages again, a few a refresh', async () => {
    const harness = createHarness()
    const ids = Array.from({ length: 9 }, (_, index) => `job-${index + 1}`)
    // job-1 is the oldest and nearest the front of the queue.
    ids.forEach((id, index) => harness.jobs.set(id, record(id, { position: index })))
    const feed = feedOf(harness, 2)
    feed.start()
    await vi.advanceTimersByTimeAsync(0)
    for (let page = 0; page < 4; page += 1) await feed.loadOlder()
    expect(feed.getSnapshot().jobs).toHaveLength(9)

    ids.forEach((id, index) => harness.jobs.set(id, record(id, { position: 100 + index })))
    const reads = harness.api.getJob.mock.calls.length
    await vi.advanceTimersByTimeAsync(1000)
    expect(harness.api.getJob.mock.calls.length - reads).toBe(OLDER_READS)
    const positions = Object.fromEntries(
      feed.getSnapshot().jobs.map(({ record: item }) => [item.id, item.position]),
    )
    // The first page (job-9, job-8) comes with the list; of the older pages, the five
    // nearest the front.
    expect(positions).toEqual({
      'job-9': 108,
      'job-8': 107,
      'job-7': 6,
      'job-6': 5,
      'job-5': 104,
      'job-4': 103,
      'job-3': 102,
      'job-2': 101,
      'job-1': 100,
    })
    feed.stop()
  })
})
