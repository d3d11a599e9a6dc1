import type { NetworkStatus } from '../network.ts'

/** A network status that tests flip by hand. */
export function manualNetworkStatus(
  initiallyOnline = true,
): NetworkStatus & { set(value: boolean): void } {
  let online = initiallyOnline
  const listeners = new Set<(online: boolean) => void>()
  return {
    isOnline: () => online,
    watch(listener: (online: boolean) => void) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    set(value: boolean) {
      online = value
      for (const listener of [...listeners]) listener(value)
    },
  }
}
