/** Whether the browser believes it is online, and when that changes. Injectable for tests. */
export interface NetworkStatus {
  isOnline(): boolean
  /** Calls `listener` on every change; returns a function that stops listening. */
  watch(listener: (online: boolean) => void): () => void
}

export function browserNetworkStatus(): NetworkStatus {
  const hasWindow = typeof window !== 'undefined'
  return {
    isOnline: () => (typeof navigator === 'undefined' ? true : navigator.onLine !== false),
    watch(listener) {
      if (!hasWindow) return () => {}
      const online = () => listener(true)
      const offline = () => listener(false)
      window.addEventListener('online', online)
      window.addEventListener('offline', offline)
      return () => {
        window.removeEventListener('online', online)
        window.removeEventListener('offline', offline)
      }
    },
  }
}
