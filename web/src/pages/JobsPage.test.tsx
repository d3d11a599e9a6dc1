import { cleanup, fireEvent, screen, waitFor } from '@testing-library/react'
import { afterEach, describe, expect, it } from 'vitest'
import { model } from '../lib/testing/fakeApi.ts'
import { createHarness } from '../lib/testing/harness.ts'
import { renderWithRelay } from '../testing/render.tsx'
import JobsPage from './JobsPage.tsx'

afterEach(cleanup)

function setup() {
  const harness = createHarness({ models: [model('sim'), model('embed', 'embeddings')] })
  renderWithRelay(<JobsPage />, harness)
  return harness
}

describe('JobsPage forms', () => {
  it('submit a batch of prompts as batch work, one job each', async () => {
    const harness = setup()
    await screen.findByRole('option', { name: 'sim' })
    fireEvent.change(screen.getByLabelText('Prompts, one per line'), {
      target: { value: 'one\ntwo' },
    })
    fireEvent.click(screen.getByRole('button', { name: 'Run 2 prompts' }))
    await waitFor(() => expect(harness.requests).toHaveLength(2))
    expect(harness.requests.map((request) => request.priority)).toEqual(['batch', 'batch'])
    expect(harness.requests[0]).toMatchObject({ model: 'sim', params: { max_tokens: 64 } })
  })

  it('submit texts to embed as batch work', async () => {
    const harness = setup()
    await screen.findByRole('option', { name: 'embed' })
    fireEvent.change(screen.getByLabelText('Texts, one per line'), {
      target: { value: 'alpha\nbeta' },
    })
    fireEvent.click(screen.getByRole('button', { name: 'Embed texts' }))
    await waitFor(() => expect(harness.requests).toHaveLength(1))
    expect(harness.requests[0]).toMatchObject({
      model: 'embed',
      input: { texts: ['alpha', 'beta'] },
      priority: 'batch',
    })
  })
})
