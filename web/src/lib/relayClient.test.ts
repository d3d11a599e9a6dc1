import { describe, expect, it, vi } from 'vitest'
import type { JobRecord } from '../contracts/jobs.gen.ts'
import { chatEvents, delta, ended, expired, notFound, queued, started } from './testing/events.ts'
import { createHarness } from './testing/harness.ts'

function connected() {
  const harness = createHarness()
  harness.connection.start()
  harness.server.last.open()
  return harness
}

describe('RelayClient', () => {
  it('applies a burst of events once per frame and notifies once', () => {
    const { client, server, frames } = connected()
    const listener = vi.fn()
    client.subscribeJob('job-1', listener)
    client.watchJob('job-1')

    for (const event of chatEvents('job-1', ['a', 'b', 'c', 'd', 'e'])) server.last.emit(event)
    expect(listener).not.toHaveBeenCalled()
    expect(frames.pending).toBe(1)

    frames.run()
    expect(listener).toHaveBeenCalledTimes(1)
    expect(client.getJob('job-1')).toMatchObject({ text: 'abcde', status: 'succeeded' })
  })

  it('shares one subscription between watchers and unsubscribes after the last', () => {
    const { client, server } = connected()
    const releaseOne = client.watchJob('job-1')
    const releaseTwo = client.watchJob('job-1')
    expect(server.subscribes()).toEqual([{ job_id: 'job-1', after: 0 }])

    releaseOne()
    releaseOne()
    expect(server.last.sent.filter((message) => message.type === 'unsubscribe')).toEqual([])
    releaseTwo()
    expect(server.last.sent.at(-1)).toEqual({ type: 'unsubscribe', job_id: 'job-1' })
  })

  it('asks the edge again from the last applied seq when a gap stays open', () => {
    const { client, server, frames } = connected()
    client.watchJob('job-1')
    server.last.emit(queued('job-1'))
    server.last.emit(delta('job-1', 3, 'lost in between'))
    frames.run()

    expect(server.subscribes()).toEqual([
      { job_id: 'job-1', after: 0 },
      { job_id: 'job-1', after: 1 },
    ])
    server.last.emit(started('job-1', 2))
    server.last.emit(delta('job-1', 3, 'lost in between'))
    frames.run()
    expect(client.getJob('job-1')).toMatchObject({ text: 'lost in between', pending: [] })
  })

  it('resumes a seeded job after its stored seq and does not repeat its text', () => {
    const { client, server, frames } = connected()
    client.watchJob('job-1', { text: 'Hello', lastSeq: 3, status: 'running' })
    expect(server.subscribes()).toEqual([{ job_id: 'job-1', after: 3 }])

    server.last.emit(delta('job-1', 4, ', again'))
    frames.run()
    expect(client.getJob('job-1')?.text).toBe('Hello, again')
  })

  it('stops following a job after its end', () => {
    const { client, connection, server, frames } = connected()
    client.watchJob('job-1')
    server.last.emit(queued('job-1'))
    server.last.emit(ended('job-1', 2, 'cancelled'))
    frames.run()
    expect(connection.isWatching('job-1')).toBe(false)
    expect(client.getJob('job-1')?.status).toBe('cancelled')
  })

  it('marks a job whose log is gone as lost, and an unknown one as not found', () => {
    const { client, server, frames } = connected()
    client.watchJob('job-1', { text: 'partial', lastSeq: 5, status: 'running' })
    client.watchJob('job-2')
    server.last.emit(notFound('job-1'))
    server.last.emit(notFound('job-2'))
    frames.run()

    expect(client.getJob('job-1')).toMatchObject({ recovery: 'lost', text: 'partial' })
    expect(client.getJob('job-2')?.recovery).toBe('not-found')
  })

  it('settles a job whose log expired from its final record, and asks no more', () => {
    vi.useFakeTimers()
    const { client, server, frames } = connected()
    client.watchJob('job-1', { text: 'Hel', lastSeq: 3, status: 'running' })
    const record: JobRecord = {
      id: 'job-1',
      model: 'chat',
      status: 'succeeded',
      priority: 'interactive',
      position: null,
      attempt: 1,
      created_at: 1,
      started_at: 2,
      finished_at: 3,
      worker: 'w1',
      last_seq: 9,
      output: { text: 'Hello there', finish_reason: 'stop' },
      usage: { completion_tokens: 2 },
      error: null,
    }
    server.last.emit(expired('job-1', record))
    frames.run()

    expect(client.getJob('job-1')).toMatchObject({
      status: 'succeeded',
      text: 'Hello there',
      lastSeq: 9,
      recovery: 'live',
    })
    // Settled, not a transient error: nothing asks the edge again.
    vi.advanceTimersByTime(60_000)
    expect(server.subscribes()).toHaveLength(1)
    vi.useRealTimers()
  })

  it('subscribes watched jobs as soon as the socket opens', () => {
    const harness = createHarness()
    harness.client.watchJob('job-1')
    expect(harness.server.sockets).toHaveLength(1)
    harness.server.last.open()
    expect(harness.server.subscribes()).toEqual([{ job_id: 'job-1', after: 0 }])
  })
})
