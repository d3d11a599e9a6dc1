import { act, cleanup, screen } from '@testing-library/react'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ended, progress, queued, started } from '../lib/testing/events.ts'
import { record } from '../lib/testing/fakeApi.ts'
import { createHarness } from '../lib/testing/harness.ts'
import { renderWithRelay } from '../testing/render.tsx'
import JobPage from './JobPage.tsx'

afterEach(() => {
  cleanup()
  vi.useRealTimers()
})

describe('JobPage', () => {
  it('says "Job not found" for a job that is not the user\'s', async () => {
    renderWithRelay(<JobPage jobId="not-mine" />)
    expect(await screen.findByRole('heading', { name: 'Job not found' })).toBeTruthy()
  })

  it('shows live progress, then the embeddings result', async () => {
    const harness = createHarness()
    harness.jobs.set('job-1', record('job-1', { model: 'embed' }))
    renderWithRelay(<JobPage jobId="job-1" />, harness)
    act(() => harness.server.last.open())
    act(() => {
      harness.server.last.emit(queued('job-1'))
      harness.server.last.emit(progress('job-1', 2, 4, 8))
      harness.frames.run()
    })
    expect(screen.getByLabelText('Progress').getAttribute('value')).toBe('50')

    const output = {
      embeddings: [
        [0.1, 0.2],
        [0.3, 0.4],
      ],
      dimensions: 2,
    }
    act(() => {
      harness.server.last.emit(ended('job-1', 3, 'succeeded', output))
      harness.frames.run()
    })
    expect(screen.getByLabelText('Progress').getAttribute('value')).toBe('100')
    expect(screen.getByTestId('job-result').textContent).toContain('2 embeddings × 2 dimensions')
    expect(screen.getByTestId('event-log').children).toHaveLength(3)
  })
  it("shows a waiting job's place in the queue, read again while it waits", async () => {
    vi.useFakeTimers()
    const harness = createHarness()
    harness.jobs.set('job-1', record('job-1', { position: 2, priority: 'batch' }))
    renderWithRelay(<JobPage jobId="job-1" />, harness)
    await act(() => vi.advanceTimersByTimeAsync(0))
    const status = () => screen.getByTestId('job-status').parentElement?.textContent
    expect(status()).toBe('queued · 2 ahead batch')

    harness.jobs.set('job-1', record('job-1', { position: 0, priority: 'batch' }))
    await act(() => vi.advanceTimersByTimeAsync(2000))
    expect(status()).toBe('queued · next batch')

    act(() => harness.server.last.open())
    act(() => {
      harness.server.last.emit(queued('job-1'))
      harness.server.last.emit(started('job-1', 2))
      harness.frames.run()
    })
    expect(status()).toBe('running batch')
    // Running: the record is not read again until the job ends.
    const reads = harness.api.getJob.mock.calls.length
    await act(() => vi.advanceTimersByTimeAsync(10_000))
    expect(harness.api.getJob.mock.calls.length).toBe(reads)
  })
})
