import { act, cleanup, screen, waitFor } from '@testing-library/react'
import { afterEach, describe, expect, it } from 'vitest'
import { statusOf } from '../lib/jobView.ts'
import { ended, progress, queued } from '../lib/testing/events.ts'
import { record } from '../lib/testing/fakeApi.ts'
import { createHarness } from '../lib/testing/harness.ts'
import { JobsFeed } from '../lib/jobsFeed.ts'
import { renderWithRelay } from '../testing/render.tsx'
import { useJobs, type UseJobsResult } from './useJobs.ts'

afterEach(cleanup)

function Probe({ into }: { into: UseJobsResult[] }) {
  const jobs = useJobs()
  into.push(jobs)
  return (
    <ul data-testid="jobs">
      {jobs.jobs.map(({ record: item, live }) => (
        <li key={item.id}>
          {item.id}:{statusOf(item, live)}:{live?.progress?.done ?? '-'}
        </li>
      ))}
    </ul>
  )
}

describe('useJobs', () => {
  it('lists the jobs, follows the unfinished ones live and refreshes when one ends', async () => {
    const harness = createHarness()
    harness.jobs.set('done-1', record('done-1', { status: 'succeeded' }))
    harness.jobs.set('job-9', record('job-9', { model: 'embed' }))
    const seen: UseJobsResult[] = []
    renderWithRelay(<Probe into={seen} />, harness)
    await waitFor(() => expect(screen.getByTestId('jobs').textContent).toContain('job-9:queued'))
    act(() => harness.server.last.open())
    expect(harness.server.subscribes()).toEqual([{ job_id: 'job-9', after: 0 }])

    act(() => {
      harness.server.last.emit(queued('job-9'))
      harness.server.last.emit(progress('job-9', 2, 8, 16))
      harness.frames.run()
    })
    expect(screen.getByTestId('jobs').textContent).toContain('job-9:running:8')

    const listed = harness.api.listJobs.mock.calls.length
    act(() => {
      harness.server.last.emit(ended('job-9', 3))
      harness.frames.run()
    })
    await waitFor(() => expect(harness.api.listJobs.mock.calls.length).toBe(listed + 1))
  })

  it('submits a batch of prompts as one job each', async () => {
    const harness = createHarness()
    const seen: UseJobsResult[] = []
    renderWithRelay(<Probe into={seen} />, harness)
    const prompts = ['one', 'two', 'three'].map((content) => ({
      model: 'sim',
      input: { messages: [{ role: 'user', content }] },
    }))

    let ids: string[] = []
    await act(async () => {
      ids = await seen[seen.length - 1].submit(prompts)
    })
    expect(ids).toEqual(['job-1', 'job-2', 'job-3'])
    await waitFor(() => expect(screen.getByTestId('jobs').children).toHaveLength(3))
  })
})

describe('older jobs', () => {
  it('are loaded a page at a time on demand and kept across refreshes', async () => {
    const harness = createHarness()
    for (let index = 1; index <= 5; index += 1) {
      harness.jobs.set(`done-${index}`, record(`done-${index}`, { status: 'succeeded' }))
    }
    harness.relay.jobs = new JobsFeed({ client: harness.relay.client, limit: 2 })
    const seen: UseJobsResult[] = []
    renderWithRelay(<Probe into={seen} />, harness)
    const listed = () => Array.from(screen.getByTestId('jobs').children, (item) => item.textContent)
    await waitFor(() => expect(listed()).toHaveLength(2))
    expect(seen[seen.length - 1].hasOlder).toBe(true)

    await act(() => seen[seen.length - 1].loadOlder())
    await act(() => seen[seen.length - 1].loadOlder())
    expect(listed().map((text) => text?.split(':')[0])).toEqual([
      'done-5',
      'done-4',
      'done-3',
      'done-2',
      'done-1',
    ])
    expect(seen[seen.length - 1].hasOlder).toBe(false)

    harness.jobs.set('new-6', record('new-6', { status: 'succeeded' }))
    await act(() => seen[seen.length - 1].refresh())
    // done-4 left the first page for the new job: it stays listed, nothing twice
    expect(listed().map((text) => text?.split(':')[0])).toEqual([
      'new-6',
      'done-5',
      'done-4',
      'done-3',
      'done-2',
      'done-1',
    ])
    expect(harness.api.listJobs).toHaveBeenLastCalledWith({ limit: 2 })
  })
})
