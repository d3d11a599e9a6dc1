import { createContext, useContext } from 'react'
import { createRelay, type Relay } from '../lib/relay.ts'

/** The tab's Relay; tests provide one built on a fake WebSocket and a fake API. */
export const RelayContext = createContext<Relay | null>(null)

let defaultRelay: Relay | undefined

export function useRelayServices(): Relay {
  const provided = useContext(RelayContext)
  if (provided) return provided
  defaultRelay ??= createRelay()
  return defaultRelay
}
