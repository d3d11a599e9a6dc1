/** Rendering with a test Relay (fake WebSocket server, fake API, frames run by hand). */
import { render } from '@testing-library/react'
import type { ReactElement } from 'react'
import { RelayContext } from '../hooks/relayContext.ts'
import { createHarness } from '../lib/testing/harness.ts'

export function renderWithRelay(ui: ReactElement, harness = createHarness()) {
  const result = render(<RelayContext.Provider value={harness.relay}>{ui}</RelayContext.Provider>)
  return { ...result, harness }
}
