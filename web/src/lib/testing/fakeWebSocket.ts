/**
 * A scripted WebSocket server for tests: inject `server.WebSocket` into a RelayConnection,
 * then open, answer, and close its sockets by hand, or script answers per client message.
 */
import type { Event } from '../../contracts/events.gen.ts'
import type { ClientMessage, ServerMessage } from '../../contracts/wire.gen.ts'
import type { WebSocketConstructor, WebSocketLike } from '../socket.ts'

type Script = (message: ClientMessage, socket: FakeSocket) => void

export class FakeSocket implements WebSocketLike {
  readyState = 0
  readonly url: string
  readonly sent: ClientMessage[] = []
  closedByClient: { code?: number; reason?: string } | null = null
  onopen: ((event: unknown) => void) | null = null
  onmessage: ((event: { data: unknown }) => void) | null = null
  onclose: ((event: { code: number; reason: string }) => void) | null = null
  onerror: ((event: unknown) => void) | null = null
  private readonly server: FakeSocketServer

  constructor(server: FakeSocketServer, url: string) {
    this.server = server
    this.url = url
  }

  /** The server accepts the connection. */
  open(): void {
    this.readyState = 1
    this.onopen?.({})
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open')
    const message = JSON.parse(data) as ClientMessage
    this.sent.push(message)
    this.server.script?.(message, this)
  }

  close(code?: number, reason?: string): void {
    this.closedByClient = { code, reason }
    this.readyState = 3
  }

  /** The server sends an event or a control message. */
  emit(frame: Event | ServerMessage | Record<string, unknown>): void {
    this.onmessage?.({ data: JSON.stringify(frame) })
  }

  /** The server (or the network) closes the connection. */
  drop(code = 1006, reason = ''): void {
    this.readyState = 3
    this.onerror?.({})
    this.onclose?.({ code, reason })
  }
}

function socketClass(server: FakeSocketServer): WebSocketConstructor {
  return class extends FakeSocket {
    constructor(url: string) {
      super(server, url)
      server.sockets.push(this)
    }
  }
}

export class FakeSocketServer {
  readonly sockets: FakeSocket[] = []
  script: Script | null = null
  readonly WebSocket: WebSocketConstructor

  constructor(script: Script | null = null) {
    this.script = script
    this.WebSocket = socketClass(this)
  }

  get last(): FakeSocket {
    const socket = this.sockets.at(-1)
    if (!socket) throw new Error('no socket was opened')
    return socket
  }

  /** Every message any socket sent, in order. */
  received(): ClientMessage[] {
    return this.sockets.flatMap((socket) => socket.sent)
  }

  subscribes(): Array<{ job_id: string; after: number | undefined }> {
    return this.received().flatMap((message) =>
      message.type === 'subscribe' ? [{ job_id: message.job_id, after: message.after }] : [],
    )
  }
}
