import { useEffect, useRef } from 'react'
import type { RelayEvent } from '../lib/protocol.ts'

function describe(event: RelayEvent): string {
  switch (event.type) {
    case 'job-queued':
      return event.position === null ? 'queued' : `queued at position ${event.position}`
    case 'job-start':
      return `attempt ${event.attempt} on ${event.worker}`
    case 'text-delta':
      return JSON.stringify(event.delta)
    case 'progress':
      return `${event.done} of ${event.total}`
    case 'job-reset':
      return `attempt ${event.attempt} starts over: ${event.reason}`
    case 'job-end':
      return event.error ? `${event.status}: ${event.error.message}` : event.status
  }
}

/** The job's recent events as they arrive, newest last; follows the end unless scrolled up. */
export default function JobEventLog({ events }: { events: readonly RelayEvent[] }) {
  const list = useRef<HTMLOListElement>(null)
  const following = useRef(true)
  const last = events.at(-1)?.seq
  useEffect(() => {
    const element = list.current
    if (element && following.current) element.scrollTop = element.scrollHeight
  }, [last])
  const onScroll = () => {
    const element = list.current
    if (element) {
      following.current = element.scrollHeight - element.scrollTop - element.clientHeight < 24
    }
  }
  if (events.length === 0) return <p className="muted">No events yet.</p>
  return (
    <ol
      ref={list}
      onScroll={onScroll}
      tabIndex={0}
      className="event-log"
      role="log"
      aria-label="Live events"
      data-testid="event-log"
    >
      {events.map((event) => (
        <li key={event.seq}>
          <span className="event-seq">{event.seq}</span>
          <span className={`event-type event-${event.type}`}>{event.type}</span>
          <span className="event-detail">{describe(event)}</span>
        </li>
      ))}
    </ol>
  )
}
