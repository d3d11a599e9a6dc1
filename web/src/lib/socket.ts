import type { BackoffOptions } from './backoff.ts'
import type { NetworkStatus } from './network.ts'
import type { RelayEvent, WireError } from './protocol.ts'

export type ConnectionState = 'connecting' | 'connected' | 'disconnected'

export interface ConnectionSnapshot {
  state: ConnectionState
  online: boolean
  /** Failed attempts since the last successful connection. */
  attempt: number
  /** When the next attempt is due (epoch ms), while waiting for one. */
  retryAt: number | null
  lastClose: { code: number; reason: string } | null
}

export interface WatchHandlers {
  /** The last seq applied; a (re)subscribe asks for the events after it. */
  after(): number
  onEvent(event: RelayEvent): void
  onError(error: WireError): void
}

export interface ConnectionOptions {
  /** Where to connect; a function is asked before every attempt, and may wait (a ticket). */
  url?: string | (() => string | Promise<string>)
  WebSocket?: WebSocketConstructor
  backoff?: BackoffOptions
  random?: () => number
  network?: NetworkStatus
  now?: () => number
  /** A ping after this much silence; no answer within the same time drops the socket. */
  heartbeatMilliseconds?: number
}

/** The part of the browser's WebSocket the connection uses; tests inject a scripted fake. */
export interface WebSocketLike {
  readonly readyState: number
  onopen: ((event: unknown) => void) | null
  onmessage: ((event: { data: unknown }) => void) | null
  onclose: ((event: { code: number; reason: string }) => void) | null
  onerror: ((event: unknown) => void) | null
  send(data: string): void
  close(code?: number, reason?: string): void
}

export type WebSocketConstructor = new (url: string) => WebSocketLike

export const SOCKET_OPEN = 1

/** `/v1/ws` on the host that served the page, over wss when the page came over https. */
export function defaultSocketUrl(): string {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws'
  return `${scheme}://${location.host}/v1/ws`
}

/**
 * A `url` for a client that authenticates with a key instead of the guest cookie: keys never
 * go in URLs, so every attempt (reconnects included) first asks for a one-time ticket.
 */
export function ticketSocketUrl(
  createTicket: (purpose: 'ws') => Promise<{ ticket: string }>,
  base: () => string = defaultSocketUrl,
): () => Promise<string> {
  return async () => {
    const { ticket } = await createTicket('ws')
    return `${base()}?ticket=${encodeURIComponent(ticket)}`
  }
}

/**
 * Pings after `intervalMilliseconds` of silence; when the next interval passes without any
 * message, calls `onTimeout`: the socket is dead even if the browser has not noticed yet.
 */
export class Heartbeat {
  private timer: ReturnType<typeof setTimeout> | undefined
  private awaitingAnswer = false
  private readonly intervalMilliseconds: number
  private readonly ping: () => void
  private readonly onTimeout: () => void

  constructor(intervalMilliseconds: number, ping: () => void, onTimeout: () => void) {
    this.intervalMilliseconds = intervalMilliseconds
    this.ping = ping
    this.onTimeout = onTimeout
  }

  /** Something arrived: the socket is alive; start the silence clock again. */
  arm(): void {
    this.stop()
    this.timer = setTimeout(() => this.beat(), this.intervalMilliseconds)
  }

  stop(): void {
    clearTimeout(this.timer)
    this.awaitingAnswer = false
  }

  private beat(): void {
    if (this.awaitingAnswer) {
      this.stop()
      this.onTimeout()
      return
    }
    this.ping()
    this.awaitingAnswer = true
    this.timer = setTimeout(() => this.beat(), this.intervalMilliseconds)
  }
}
