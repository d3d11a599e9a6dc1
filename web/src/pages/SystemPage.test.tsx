import { cleanup, screen, within } from '@testing-library/react'
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
})
