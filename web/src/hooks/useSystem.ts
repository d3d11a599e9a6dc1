import { useEffect, useSyncExternalStore } from 'react'
import type { SystemSnapshot } from '../lib/systemMonitor.ts'
import { useRelayServices } from './relayContext.ts'

/** The pools, polled every few seconds, with a short history for rates and charts. */
export function useSystem(): SystemSnapshot {
  const { system } = useRelayServices()
  useEffect(() => system.retain(), [system])
  return useSyncExternalStore(system.subscribe, system.getSnapshot)
}
