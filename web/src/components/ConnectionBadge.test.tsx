import { act, cleanup, screen } from '@testing-library/react'
import { afterEach, describe, expect, it } from 'vitest'
import { CLOSE_UNAUTHORIZED } from '../lib/protocol.ts'
import { renderWithRelay } from '../testing/render.tsx'
import ConnectionBadge from './ConnectionBadge.tsx'

afterEach(cleanup)

describe('ConnectionBadge', () => {
  it('says the session was refused (4001) instead of counting down to a retry', () => {
    const { harness } = renderWithRelay(<ConnectionBadge />)
    act(() => harness.server.last.drop(CLOSE_UNAUTHORIZED, 'invalid identity'))
    expect(screen.getByRole('status').textContent).toMatch(/Not authorized/)
    expect(screen.getByTestId('connection').dataset.state).toBe('disconnected')
    expect(harness.server.sockets).toHaveLength(1)
  })
})
