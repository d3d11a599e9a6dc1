import { useEffect, useSyncExternalStore } from 'react'
import type { SystemSnapshot } from '../lib/systemMonitor.ts'
import { useRelayServices } from './relayContext.ts'

export interface UseSystemOptions {
  /** Also poll every pool's waiting jobs by user (`queueStatus` 'forbidden' for a user who is
   * not an operator). */
  queue?: boolean
}

/** The pools, polled every few seconds, with a short history for rates and charts. */
export function useSystem({ queue = false }: UseSystemOptions = {}): SystemSnapshot {
  const { system } = useRelayServices()
  useEffect(() => (queue ? system.retainQueue() : system.retain()), [system, queue])
  return useSyncExternalStore(system.subscribe, system.getSnapshot)
}
