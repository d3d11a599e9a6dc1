import { describe, expect, it } from 'vitest'
import {
  hasGap,
  initialJobState,
  markMissing,
  MAX_PENDING,
  reduceJob,
  reduceJobEvents,
} from './reducer.ts'
import { chatEvents, delta, ended, progress, queued, reset, started } from './testing/events.ts'

const JOB = 'job-1'

describe('reduceJob', () => {
  it('builds the text, status and output of a whole job', () => {
    const state = reduceJobEvents(initialJobState(JOB), chatEvents(JOB, ['Hello', ' world']))

    expect(state.text).toBe('Hello world')
    expect(state.status).toBe('succeeded')
    expect(state.attempt).toBe(1)
    expect(state.worker).toBe('worker-1')
    expect(state.lastSeq).toBe(5)
    expect(state.output).toEqual({ text: 'Hello world', finish_reason: 'length' })
  })

  it('ignores a duplicate and returns the very same state object', () => {
    const state = reduceJobEvents(initialJobState(JOB), [
      queued(JOB),
      started(JOB, 2),
      delta(JOB, 3, 'a'),
    ])

    expect(reduceJob(state, delta(JOB, 3, 'a'))).toBe(state)
    expect(reduceJob(state, started(JOB, 2))).toBe(state)
    expect(state.text).toBe('a')
  })

  it('ignores events of another job', () => {
    const state = initialJobState(JOB)
    expect(reduceJob(state, queued('job-2'))).toBe(state)
  })

  it('holds an event after a gap until the missing one arrives', () => {
    let state = reduceJobEvents(initialJobState(JOB), [queued(JOB), started(JOB, 2)])

    state = reduceJob(state, delta(JOB, 4, 'world'))
    expect(state.text).toBe('')
    expect(state.lastSeq).toBe(2)
    expect(hasGap(state)).toBe(true)

    state = reduceJob(state, delta(JOB, 3, 'hello '))
    expect(state.text).toBe('hello world')
    expect(state.lastSeq).toBe(4)
    expect(hasGap(state)).toBe(false)
  })

  it('puts events that arrive out of order back in seq order', () => {
    const events = chatEvents(JOB, ['a', 'b', 'c', 'd'])
    const shuffled = [
      events[6],
      events[3],
      events[0],
      events[5],
      events[2],
      events[1],
      events[4],
      events[4],
    ]

    const state = reduceJobEvents(initialJobState(JOB), shuffled)

    expect(state.text).toBe('abcd')
    expect(state.status).toBe('succeeded')
    expect(state.pending).toEqual([])
    expect(state.events.map((event) => event.seq)).toEqual([1, 2, 3, 4, 5, 6, 7])
  })

  it('keeps a bounded number of events waiting behind a gap', () => {
    let state = reduceJob(initialJobState(JOB), queued(JOB))
    for (let seq = 3; seq < MAX_PENDING + 50; seq += 1)
      state = reduceJob(state, delta(JOB, seq, 'x'))

    expect(state.pending).toHaveLength(MAX_PENDING)
    expect(state.pending[0].seq).toBe(3)
  })

  it('drops the output of the old attempt on job-reset', () => {
    const state = reduceJobEvents(initialJobState(JOB), [
      queued(JOB),
      started(JOB, 2),
      delta(JOB, 3, 'first attempt'),
      progress(JOB, 4, 1, 4),
      reset(JOB, 5, 2),
      started(JOB, 6, 2),
      delta(JOB, 7, 'second'),
    ])

    expect(state.text).toBe('second')
    expect(state.progress).toBeNull()
    expect(state.attempt).toBe(2)
    expect(state.resets).toBe(1)
    expect(state.status).toBe('running')
  })

  it('applies a reset that arrives before the deltas it cancels', () => {
    const state = reduceJobEvents(initialJobState(JOB), [
      queued(JOB),
      reset(JOB, 4, 2),
      delta(JOB, 3, 'lost'),
      started(JOB, 2),
      delta(JOB, 5, 'kept'),
    ])

    expect(state.text).toBe('kept')
  })

  it('tracks progress and ends with the status of job-end', () => {
    const state = reduceJobEvents(initialJobState(JOB), [
      queued(JOB),
      started(JOB, 2),
      progress(JOB, 3, 4, 12),
      progress(JOB, 4, 8, 12),
      ended(JOB, 5, 'failed'),
    ])

    expect(state.progress).toEqual({ done: 8, total: 12 })
    expect(state.status).toBe('failed')
    expect(state.error).toEqual({ code: 'engine_error', message: 'the model broke' })
  })

  it('continues from a seeded state (a reload) without repeating text', () => {
    const seeded = initialJobState(JOB, { text: 'Hello', lastSeq: 3, status: 'running' })

    const state = reduceJobEvents(seeded, [delta(JOB, 3, 'Hello'), delta(JOB, 4, ' again')])

    expect(state.text).toBe('Hello again')
  })

  it('marks a followed job as lost, and an unknown one as not found', () => {
    const followed = reduceJob(initialJobState(JOB), queued(JOB))
    expect(markMissing(followed).recovery).toBe('lost')
    expect(markMissing(initialJobState(JOB)).recovery).toBe('not-found')
  })
})
