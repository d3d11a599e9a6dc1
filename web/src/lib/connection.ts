/**
 * One WebSocket per tab, multiplexing every job the tab watches.
 *
 *   watch(job) ──► subscribe {job_id, after: handlers.after()} ──► events ──► handlers.onEvent
 *   socket closes (network, edge restart, 4008 slow client)
 *     └─► wait a full-jitter backoff (0.5 s base, 10 s cap; reset once connected),
 *         or until the browser is back online ─► reconnect ─► resubscribe every watched job
 *         from the last seq it applied
 *
 * No React here: hooks read `getSnapshot()` through `useSyncExternalStore`.
 */
import { backoffDelay, DEFAULT_BACKOFF } from './backoff.ts'
import { browserNetworkStatus } from './network.ts'
import {
  CLOSE_UNAUTHORIZED,
  encodeClientMessage,
  parseServerFrame,
  type ClientMessage,
} from './protocol.ts'
import {
  defaultSocketUrl,
  Heartbeat,
  SOCKET_OPEN,
  type ConnectionOptions,
  type ConnectionSnapshot,
  type WatchHandlers,
  type WebSocketConstructor,
  type WebSocketLike,
} from './socket.ts'

export type { ConnectionSnapshot } from './socket.ts'

export class RelayConnection {
  private readonly options: Required<Omit<ConnectionOptions, 'url'>> & {
    url: () => string | Promise<string>
  }
  private readonly watches = new Map<string, WatchHandlers>()
  private readonly listeners = new Set<() => void>()
  private socket: WebSocketLike | null = null
  private retryTimer: ReturnType<typeof setTimeout> | undefined
  private readonly heartbeat: Heartbeat
  private stopNetworkWatch: (() => void) | null = null
  private started = false
  /** Counts attempts, so a URL that arrives after a newer attempt (or a stop) is dropped. */
  private attemptNumber = 0
  private snapshot: ConnectionSnapshot

  constructor(options: ConnectionOptions = {}) {
    const url = options.url ?? defaultSocketUrl
    this.options = {
      url: typeof url === 'string' ? () => url : url,
      WebSocket: options.WebSocket ?? (globalThis.WebSocket as unknown as WebSocketConstructor),
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      random: options.random ?? Math.random,
      network: options.network ?? browserNetworkStatus(),
      now: options.now ?? Date.now,
      heartbeatMilliseconds: options.heartbeatMilliseconds ?? 25_000,
    }
    this.heartbeat = new Heartbeat(
      this.options.heartbeatMilliseconds,
      () => this.send({ type: 'ping' }),
      () => this.onHeartbeatTimeout(),
    )
    this.snapshot = {
      state: 'disconnected',
      online: this.options.network.isOnline(),
      attempt: 0,
      retryAt: null,
      lastClose: null,
    }
  }

  getSnapshot = (): ConnectionSnapshot => this.snapshot

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Connects, and keeps reconnecting until `stop()`. Calling it again does nothing. */
  start(): void {
    if (this.started) return
    this.started = true
    this.stopNetworkWatch = this.options.network.watch((online) => this.onNetwork(online))
    this.connect()
  }

  stop(): void {
    this.started = false
    this.attemptNumber += 1
    this.stopNetworkWatch?.()
    this.stopNetworkWatch = null
    clearTimeout(this.retryTimer)
    this.dropSocket(1000, 'client stopped')
    this.update({ state: 'disconnected', retryAt: null })
  }

  /** Connects now, skipping a pending backoff wait (a "retry now" button). */
  reconnect(): void {
    if (!this.started) return this.start()
    if (this.snapshot.state !== 'disconnected') return
    clearTimeout(this.retryTimer)
    this.connect()
  }

  /** Follows `jobId`: subscribes now if connected, and again after every reconnect. */
  watch(jobId: string, handlers: WatchHandlers): void {
    this.watches.set(jobId, handlers)
    this.sendSubscribe(jobId, handlers)
  }

  /** Stops following `jobId`; `tell` false when the edge already ended the subscription. */
  unwatch(jobId: string, tell = true): void {
    if (!this.watches.delete(jobId)) return
    if (tell) this.send({ type: 'unsubscribe', job_id: jobId })
  }

  isWatching(jobId: string): boolean {
    return this.watches.has(jobId)
  }

  /** Asks again for the events after the last applied seq (to fill a gap). */
  resubscribe(jobId: string): void {
    const handlers = this.watches.get(jobId)
    if (handlers) this.sendSubscribe(jobId, handlers)
  }

  /** Sends when connected; returns false otherwise (watches are restored on reconnect). */
  send(message: ClientMessage): boolean {
    if (!this.socket || this.socket.readyState !== SOCKET_OPEN) return false
    this.socket.send(encodeClientMessage(message))
    return true
  }

  private sendSubscribe(jobId: string, handlers: WatchHandlers): void {
    this.send({ type: 'subscribe', job_id: jobId, after: handlers.after() })
  }

  private update(change: Partial<ConnectionSnapshot>): void {
    this.snapshot = { ...this.snapshot, ...change }
    for (const listener of [...this.listeners]) listener()
  }

  private connect(): void {
    if (!this.started) return
    if (!this.options.network.isOnline()) {
      this.update({ state: 'disconnected', online: false, retryAt: null })
      return
    }
    this.update({ state: 'connecting', retryAt: null })
    const attempt = ++this.attemptNumber
    let url: string | Promise<string>
    try {
      url = this.options.url()
    } catch {
      this.scheduleRetry()
      return
    }
    if (typeof url === 'string') return this.open(url)
    url.then(
      (ready) => {
        if (this.isCurrent(attempt)) this.open(ready)
      },
      () => {
        // No ticket (edge unreachable, Redis down): retry like a failed connection.
        if (this.isCurrent(attempt)) this.scheduleRetry()
      },
    )
  }

  private isCurrent(attempt: number): boolean {
    return attempt === this.attemptNumber && this.started && this.snapshot.state === 'connecting'
  }

  private open(url: string): void {
    let socket: WebSocketLike
    try {
      socket = new this.options.WebSocket(url)
    } catch {
      this.scheduleRetry()
      return
    }
    this.socket = socket
    socket.onopen = () => this.onOpen()
    socket.onmessage = (message) => this.onMessage(message.data)
    socket.onclose = (close) => this.onClose(close.code, close.reason)
    socket.onerror = () => {}
  }

  private onOpen(): void {
    this.update({ state: 'connected', attempt: 0, retryAt: null })
    this.heartbeat.arm()
    for (const [jobId, handlers] of this.watches) this.sendSubscribe(jobId, handlers)
  }

  private onMessage(data: unknown): void {
    this.heartbeat.arm()
    if (typeof data !== 'string') return
    const frame = parseServerFrame(data)
    if (!frame) return
    if (frame.kind === 'event') {
      this.watches.get(frame.event.job_id)?.onEvent(frame.event)
    } else if (frame.message.type === 'error' && frame.message.job_id) {
      this.watches.get(frame.message.job_id)?.onError(frame.message)
    }
  }

  private onClose(code: number, reason: string): void {
    this.detach()
    this.update({ lastClose: { code, reason } })
    if (code === CLOSE_UNAUTHORIZED) {
      // No valid identity: retrying cannot help; "Retry now" (or a reload) tries again.
      clearTimeout(this.retryTimer)
      this.update({ state: 'disconnected', retryAt: null })
      return
    }
    // 4008 (slow client) included: every other close is followed by a reconnect and a resume.
    this.scheduleRetry()
  }

  private scheduleRetry(): void {
    clearTimeout(this.retryTimer)
    if (!this.started) return
    const online = this.options.network.isOnline()
    if (!online) {
      // Paused: the 'online' event reconnects.
      this.update({ state: 'disconnected', online, retryAt: null })
      return
    }
    const { attempt } = this.snapshot
    const delay = backoffDelay(attempt, this.options.backoff, this.options.random)
    this.update({
      state: 'disconnected',
      attempt: attempt + 1,
      retryAt: this.options.now() + delay,
    })
    this.retryTimer = setTimeout(() => this.connect(), delay)
  }

  private onNetwork(online: boolean): void {
    this.update({ online })
    if (!online) {
      clearTimeout(this.retryTimer)
      if (this.snapshot.state !== 'connected') this.update({ state: 'disconnected', retryAt: null })
      return
    }
    if (this.snapshot.state === 'disconnected' && !this.refused()) {
      clearTimeout(this.retryTimer)
      this.connect()
    }
  }

  /** The edge refused this tab's identity: wait for the user instead of retrying. */
  private refused(): boolean {
    return this.snapshot.lastClose?.code === CLOSE_UNAUTHORIZED
  }

  private onHeartbeatTimeout(): void {
    this.dropSocket(4000, 'heartbeat timeout')
    this.update({ lastClose: { code: 4000, reason: 'heartbeat timeout' } })
    this.scheduleRetry()
  }

  private detach(): WebSocketLike | null {
    this.heartbeat.stop()
    const socket = this.socket
    if (socket) {
      socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null
    }
    this.socket = null
    return socket
  }

  private dropSocket(code: number, reason: string): void {
    const socket = this.detach()
    try {
      socket?.close(code, reason)
    } catch {
      // Closing a socket that never opened may throw; it is gone either way.
    }
  }
}
