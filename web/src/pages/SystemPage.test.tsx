import { act, cleanup, screen, waitFor, within } from '@testing-library/react'
import { afterEach, describe, expect, it } from 'vitest'
import { ApiError } from '../lib/api.ts'
import { model } from '../lib/testing/fakeApi.ts'
import { createHarness } from '../lib/testing/harness.ts'
import { renderWithRelay } from '../testing/render.tsx'
import SystemPage from './SystemPage.tsx'

afterEach(cleanup)

describe('SystemPage', () => {
  it('lists every pool with its live workers and queue', async () => {
    const harness = createHarness({
      models: [model('sim', 'chat', 1), { ...model('embed', 'embeddings', 0), queued: 3 }],
    })
    renderWithRelay(<SystemPage />, harness)

    const sim = await screen.findByTestId('model-sim')
    expect(within(sim).getByRole('rowheader').textContent).toBe('sim')
    expect(screen.getByTestId('workers-sim').textContent).toBe('1')
    expect(screen.getByTestId('workers-embed').textContent).toBe('0')
    expect(screen.getByTestId('total-queued').textContent).toBe('3')
    expect(screen.getByTestId('throughput-chart')).toBeTruthy()
    expect(screen.getByRole('link', { name: 'API documentation' }).getAttribute('href')).toBe(
      '/docs',
    )
  })

  it('shows the error message of a failed request', async () => {
    const harness = createHarness()
    harness.api.listModels.mockRejectedValue(
      new ApiError(503, 'redis_unavailable', 'Redis is not reachable'),
    )
    renderWithRelay(<SystemPage />, harness)
    const alert = await screen.findByRole('alert')
    expect(alert.textContent).toContain('Redis is not reachable')
  })
  it("shows an operator every pool's waiting jobs by user", async () => {
    const harness = createHarness({ models: [model('sim'), model('embed', 'embeddings')] })
    harness.queue.push(
      {
        pool: 'sim',
        interactive: 2,
        batch: 90,
        users: [
          { user: 'alice', interactive: 0, batch: 90 },
          { user: 'bob', interactive: 2, batch: 0 },
        ],
        other_users: 0,
      },
      { pool: 'embed', interactive: 0, batch: 0, users: [], other_users: 0 },
    )
    renderWithRelay(<SystemPage />, harness)

    const alice = await screen.findByTestId('queue-sim-alice')
    expect(screen.getByRole('heading', { name: 'Waiting jobs by user' })).toBeTruthy()
    expect(within(alice).getByRole('rowheader', { name: 'alice' })).toBeTruthy()
    expect(
      within(alice)
        .getAllByRole('cell')
        .map((cell) => cell.textContent),
    ).toEqual(['0', '90'])
    const bob = screen.getByTestId('queue-sim-bob')
    expect(
      within(bob)
        .getAllByRole('cell')
        .map((cell) => cell.textContent),
    ).toEqual(['2', '0'])
    expect(screen.queryByTestId('queue-embed')).toBeNull()
  })

  it('hides the queue by user quietly from a user who is not an operator', async () => {
    const harness = createHarness()
    harness.api.getQueue.mockRejectedValue(new ApiError(403, 'forbidden', 'operators only'))
    renderWithRelay(<SystemPage />, harness)
    await screen.findByTestId('model-sim')
    await waitFor(() => expect(harness.api.getQueue).toHaveBeenCalled())
    await act(async () => {})
    expect(screen.queryByRole('heading', { name: 'Waiting jobs by user' })).toBeNull()
    expect(screen.queryByRole('alert')).toBeNull()
  })

  it('shows why the queue by user could not be read', async () => {
    const harness = createHarness()
    harness.api.getQueue.mockRejectedValue(new ApiError(503, 'redis_unavailable', 'no Redis'))
    renderWithRelay(<SystemPage />, harness)
    const alert = await screen.findByRole('alert')
    expect(alert.textContent).toBe('Could not load the queue: no Redis')
  })
})
