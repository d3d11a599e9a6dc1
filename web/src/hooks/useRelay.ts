import { useEffect, useSyncExternalStore } from 'react'
import type { ConnectionSnapshot } from '../lib/connection.ts'
import { useRelayServices } from './relayContext.ts'

export interface RelayStatus extends ConnectionSnapshot {
  /** Connect now instead of waiting for the next backoff attempt. */
  reconnect: () => void
}

/** The state of the tab's one WebSocket: 'connecting' | 'connected' | 'disconnected'. */
export function useRelay(): RelayStatus {
  const { connection } = useRelayServices().client
  useEffect(() => connection.start(), [connection])
  const snapshot = useSyncExternalStore(connection.subscribe, connection.getSnapshot)
  return { ...snapshot, reconnect: () => connection.reconnect() }
}
