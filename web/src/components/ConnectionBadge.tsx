import { useEffect, useState } from 'react'
import { useRelay } from '../hooks/useRelay.ts'
import { CLOSE_UNAUTHORIZED } from '../lib/protocol.ts'

function useNow(active: boolean): number {
  const [now, setNow] = useState(() => Date.now())
  useEffect(() => {
    if (!active) return
    const timer = setInterval(() => setNow(Date.now()), 500)
    return () => clearInterval(timer)
  }, [active])
  return now
}

/** The WebSocket's state in words, with a way to retry now while waiting to reconnect. */
export default function ConnectionBadge() {
  const { state, online, retryAt, lastClose, reconnect } = useRelay()
  const now = useNow(retryAt !== null)
  let text = 'Connecting…'
  if (state === 'connected') text = 'Live'
  else if (!online) text = 'Offline: waiting for the network'
  else if (state === 'disconnected' && lastClose?.code === CLOSE_UNAUTHORIZED) {
    text = 'Not authorized: the edge refused this session; reload the page'
  }
  else if (state === 'disconnected' && retryAt !== null) {
    const seconds = Math.max(0, Math.ceil((retryAt - now) / 1000))
    text = `Disconnected: retrying in ${seconds} s`
  } else if (state === 'disconnected') text = 'Disconnected'
  return (
    <div className={`connection connection-${state}`} data-testid="connection" data-state={state}>
      <span className="connection-dot" aria-hidden="true" />
      <span role="status">{text}</span>
      {state === 'disconnected' && online && (
        <button type="button" className="link-button" onClick={reconnect}>
          Retry now
        </button>
      )}
    </div>
  )
}
