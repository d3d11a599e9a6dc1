/**
 * The WebSocket protocol of the edge, typed only by the generated contracts. A frame from the
 * server is either a job event (it carries `seq`) or a control message (`subscribed`, `error`…).
 */
import type { Event } from '../contracts/events.gen.ts'
import type { ClientMessage, ServerMessage } from '../contracts/wire.gen.ts'

export type { Event as RelayEvent } from '../contracts/events.gen.ts'
export type { ClientMessage, ServerMessage, WireError } from '../contracts/wire.gen.ts'

export type ServerFrame =
  { kind: 'event'; event: Event } | { kind: 'message'; message: ServerMessage }

// Records keyed by the union's `type`: a new type in the contracts fails to compile here.
const EVENT_TYPES: Record<Event['type'], true> = {
  'job-queued': true,
  'job-start': true,
  'text-delta': true,
  progress: true,
  'job-reset': true,
  'job-end': true,
}

const MESSAGE_TYPES: Record<ServerMessage['type'], true> = {
  submitted: true,
  subscribed: true,
  unsubscribed: true,
  error: true,
  pong: true,
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The frame in `text`, or undefined for anything that is not a frame we know. */
export function parseServerFrame(text: string): ServerFrame | undefined {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch {
    return undefined
  }
  if (!isRecord(raw) || typeof raw.type !== 'string') return undefined
  if (Object.hasOwn(EVENT_TYPES, raw.type)) {
    if (typeof raw.job_id !== 'string' || typeof raw.seq !== 'number') return undefined
    return { kind: 'event', event: raw as unknown as Event }
  }
  if (Object.hasOwn(MESSAGE_TYPES, raw.type)) {
    return { kind: 'message', message: raw as unknown as ServerMessage }
  }
  return undefined
}

export function encodeClientMessage(message: ClientMessage): string {
  return JSON.stringify(message)
}

/** Close code of the edge for a client that did not read its events fast enough. */
export const CLOSE_SLOW_CONSUMER = 4008
/** Close code of the edge for a connection without a valid identity. */
export const CLOSE_UNAUTHORIZED = 4001
