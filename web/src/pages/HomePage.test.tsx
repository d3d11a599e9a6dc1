import { cleanup, render, screen, within } from '@testing-library/react'
import { afterEach, describe, expect, it } from 'vitest'
import type { ModelInfo } from '../contracts/models.gen.ts'
import { ApiError, type Api } from '../lib/api.ts'
import HomePage from './HomePage.tsx'

afterEach(cleanup)

function model(id: string, kind: ModelInfo['kind'], workers: number): ModelInfo {
  const engine = kind === 'chat' ? 'simulated' : 'embeddings'
  return { id, object: 'model', created: 0, owned_by: 'relayline', kind, engine, workers, queued: 0, done: 0 }
}

// Only listModels is called by this page; the rest of the Api is never reached.
function fakeApi(listModels: Api['listModels']): Api {
  return { listModels } as Api
}

describe('HomePage', () => {
  it('lists every model with its live worker count', async () => {
    const api = fakeApi(async () => ({
      object: 'list',
      data: [model('sim', 'chat', 1), model('embed', 'embeddings', 0)],
    }))

    render(<HomePage api={api} />)

    const sim = await screen.findByTestId('model-sim')
    expect(within(sim).getByRole('rowheader').textContent).toBe('sim')
    expect(within(sim).getByText('chat')).toBeTruthy()
    expect(screen.getByTestId('workers-sim').textContent).toBe('1')
    expect(screen.getByTestId('workers-embed').textContent).toBe('0')
    expect(screen.getByRole('link', { name: 'API documentation' }).getAttribute('href')).toBe(
      '/docs',
    )
  })

  it('shows the error message of a failed request', async () => {
    const api = fakeApi(async () => {
      throw new ApiError(503, 'redis_unavailable', 'Redis is not reachable')
    })

    render(<HomePage api={api} />)

    const alert = await screen.findByRole('alert')
    expect(alert.textContent).toContain('Redis is not reachable')
  })
})
