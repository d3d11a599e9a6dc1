import { act, cleanup, screen, waitFor } from '@testing-library/react'
import { afterEach, describe, expect, it } from 'vitest'
import { ended, progress, queued, started } from '../lib/testing/events.ts'
import { record } from '../lib/testing/fakeApi.ts'
import { createHarness } from '../lib/testing/harness.ts'
import { renderWithRelay } from '../testing/render.tsx'
import { useJob } from './useJob.ts'

afterEach(cleanup)

function Probe({ jobId }: { jobId: string }) {
  const { job, record: found, status, error } = useJob(jobId)
  return (
    <p data-testid="probe" data-status={status} data-error={error?.code}>
      {found?.model} {job?.progress ? `${job.progress.done}/${job.progress.total}` : ''}
    </p>
  )
}

describe('useJob', () => {
  it('follows the job live from its first event and reads its record', async () => {
    const harness = createHarness()
    harness.jobs.set('job-1', record('job-1', { model: 'embed' }))
    renderWithRelay(<Probe jobId="job-1" />, harness)
    act(() => harness.server.last.open())
    expect(harness.server.subscribes()).toEqual([{ job_id: 'job-1', after: 0 }])

    act(() => {
      harness.server.last.emit(queued('job-1'))
      harness.server.last.emit(started('job-1', 2))
      harness.server.last.emit(progress('job-1', 3, 4, 12))
      harness.frames.run()
    })
    await waitFor(() => expect(screen.getByTestId('probe').textContent).toBe('embed 4/12'))
    expect(screen.getByTestId('probe').dataset.status).toBe('streaming')

    act(() => {
      harness.server.last.emit(ended('job-1', 4))
      harness.frames.run()
    })
    expect(screen.getByTestId('probe').dataset.status).toBe('ready')
    // The record is read again once the job ended, for its final output.
    await waitFor(() => expect(harness.api.getJob).toHaveBeenCalledTimes(2))
  })

  it("reports another user's job (404 from the edge) as job_not_found", async () => {
    const harness = createHarness()
    renderWithRelay(<Probe jobId="someone-elses" />, harness)
    act(() => harness.server.last.open())
    await waitFor(() => expect(screen.getByTestId('probe').dataset.error).toBe('job_not_found'))
    expect(screen.getByTestId('probe').dataset.status).toBe('error')
  })
})
