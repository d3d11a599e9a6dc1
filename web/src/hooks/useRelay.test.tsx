import { act, cleanup, screen } from '@testing-library/react'
import { afterEach, describe, expect, it } from 'vitest'
import { renderWithRelay } from '../testing/render.tsx'
import { useRelay } from './useRelay.ts'

afterEach(cleanup)

function Probe() {
  const { state, online } = useRelay()
  return <p data-testid="probe">{`${state} ${online ? 'online' : 'offline'}`}</p>
}

describe('useRelay', () => {
  it('connects on mount and follows the connection state', () => {
    const { harness } = renderWithRelay(<Probe />)
    const text = () => screen.getByTestId('probe').textContent
    expect(text()).toBe('connecting online')

    act(() => harness.server.last.open())
    expect(text()).toBe('connected online')

    act(() => harness.network.set(false))
    act(() => harness.server.last.drop(1006))
    expect(text()).toBe('disconnected offline')

    act(() => harness.network.set(true))
    expect(text()).toBe('connecting online')
  })
})
