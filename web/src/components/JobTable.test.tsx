import { cleanup, render, screen, within } from '@testing-library/react'
import { afterEach, describe, expect, it } from 'vitest'
import type { JobRecord } from '../contracts/jobs.gen.ts'
import { initialJobState } from '../lib/reducer.ts'
import { record } from '../lib/testing/fakeApi.ts'
import type { JobListItem } from '../lib/jobsFeed.ts'
import JobTable from './JobTable.tsx'

afterEach(cleanup)

const item = (id: string, change: Partial<JobRecord>, live?: JobListItem['live']) => ({
  record: record(id, change),
  live,
})

function statusCell(id: string): string {
  const row = screen.getByTestId(`job-row-${id}`)
  return within(row).getAllByRole('cell')[1].textContent ?? ''
}

describe('JobTable', () => {
  it("shows a waiting job's place in its pool's queue, and batch work as batch", () => {
    const jobs = [
      item('ahead-3', { position: 3 }),
      item('next-one', { position: 0, priority: 'batch' }),
      item('no-word', { position: null }),
      // The stream says it started: the record's position is stale.
      item('started', { position: 2 }, initialJobState('started', { status: 'running' })),
      item('done', { status: 'succeeded', priority: 'batch', position: null }),
    ]
    render(<JobTable jobs={jobs} onCancel={() => {}} />)

    expect(statusCell('ahead-3')).toBe('queued · 3 ahead')
    expect(statusCell('next-one')).toBe('queued · next batch')
    expect(within(screen.getByTestId('job-row-next-one')).getByText('batch')).toBeTruthy()
    expect(statusCell('no-word')).toBe('queued')
    expect(statusCell('started')).toBe('running')
    expect(statusCell('done')).toBe('succeeded batch')
  })
})
