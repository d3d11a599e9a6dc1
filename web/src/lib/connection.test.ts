import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { RelayConnection } from './connection.ts'
import { CLOSE_SLOW_CONSUMER, CLOSE_UNAUTHORIZED, type RelayEvent } from './protocol.ts'
import { delta, notFound, queued } from './testing/events.ts'
import { FakeSocketServer } from './testing/fakeWebSocket.ts'
import { manualNetworkStatus } from './testing/network.ts'
import { ticketSocketUrl } from './socket.ts'

function setup(random = () => 1) {
  const server = new FakeSocketServer()
  const network = manualNetworkStatus()
  const connection = new RelayConnection({
    url: 'ws://edge.test/v1/ws',
    WebSocket: server.WebSocket,
    network,
    random,
    heartbeatMilliseconds: 25_000,
  })
  return { server, network, connection }
}

/** A watch that records what it got and remembers its last seq, like the client does. */
function watcher() {
  const events: RelayEvent[] = []
  const errors: string[] = []
  return {
    events,
    errors,
    handlers: {
      after: () => events.at(-1)?.seq ?? 0,
      onEvent: (event: RelayEvent) => events.push(event),
      onError: (error: { code: string }) => errors.push(error.code),
    },
  }
}

beforeEach(() => {
  vi.useFakeTimers()
})

afterEach(() => {
  vi.useRealTimers()
})

describe('RelayConnection', () => {
  it('multiplexes every watched job over one socket and routes events by job', () => {
    const { server, connection } = setup()
    const one = watcher()
    const two = watcher()
    connection.start()
    connection.watch('job-1', one.handlers)
    connection.watch('job-2', two.handlers)
    expect(connection.getSnapshot().state).toBe('connecting')

    server.last.open()
    server.last.emit(queued('job-1'))
    server.last.emit(queued('job-2'))
    server.last.emit(delta('job-2', 2, 'hi'))

    expect(server.sockets).toHaveLength(1)
    expect(server.subscribes()).toEqual([
      { job_id: 'job-1', after: 0 },
      { job_id: 'job-2', after: 0 },
    ])
    expect(one.events.map((event) => event.seq)).toEqual([1])
    expect(two.events.map((event) => event.seq)).toEqual([1, 2])
    expect(connection.getSnapshot().state).toBe('connected')
  })

  it('reconnects with full-jitter exponential backoff and resubscribes from the last seq', () => {
    const { server, connection } = setup(() => 0.999)
    const job = watcher()
    connection.start()
    connection.watch('job-1', job.handlers)
    server.last.open()
    server.last.emit(queued('job-1'))
    server.last.emit(delta('job-1', 2, 'a'))
    server.last.emit(delta('job-1', 3, 'b'))

    // Each failed attempt waits longer: ceilings 500, 1000, 2000 ms (random 0.999).
    const waits: number[] = []
    for (let attempt = 0; attempt < 3; attempt += 1) {
      server.last.drop(1006)
      const { retryAt } = connection.getSnapshot()
      waits.push((retryAt ?? 0) - Date.now())
      const before = server.sockets.length
      vi.advanceTimersByTime(waits[attempt] - 1)
      expect(server.sockets).toHaveLength(before)
      vi.advanceTimersByTime(1)
      expect(server.sockets).toHaveLength(before + 1)
    }
    expect(waits).toEqual([499, 999, 1998])

    server.last.open()
    expect(connection.getSnapshot()).toMatchObject({ state: 'connected', attempt: 0 })
    expect(server.last.sent).toEqual([{ type: 'subscribe', job_id: 'job-1', after: 3 }])

    // Reset on success: the next drop starts from the base delay again.
    server.last.drop(1006)
    expect((connection.getSnapshot().retryAt ?? 0) - Date.now()).toBe(499)
  })

  it('caps the wait at 10 seconds', () => {
    const { server, connection } = setup(() => 0.999)
    connection.start()
    for (let attempt = 0; attempt < 8; attempt += 1) {
      server.last.drop(1006)
      vi.advanceTimersByTime(10_000)
    }
    server.last.drop(1006)
    expect((connection.getSnapshot().retryAt ?? 0) - Date.now()).toBe(9990)
  })

  it('reconnects and resumes after the edge cut off a slow client (4008)', () => {
    const { server, connection } = setup(() => 0)
    const job = watcher()
    connection.start()
    connection.watch('job-1', job.handlers)
    server.last.open()
    server.last.emit(queued('job-1'))

    server.last.drop(CLOSE_SLOW_CONSUMER, 'slow consumer')
    expect(connection.getSnapshot().lastClose).toEqual({ code: 4008, reason: 'slow consumer' })
    vi.advanceTimersByTime(0)
    server.last.open()

    expect(server.last.sent).toEqual([{ type: 'subscribe', job_id: 'job-1', after: 1 }])
  })

  it('stops retrying when the edge refuses the identity (4001); "Retry now" tries again', () => {
    const { server, network, connection } = setup(() => 0)
    connection.start()
    server.last.drop(CLOSE_UNAUTHORIZED, 'invalid identity')

    expect(connection.getSnapshot()).toMatchObject({
      state: 'disconnected',
      retryAt: null,
      lastClose: { code: 4001, reason: 'invalid identity' },
    })
    vi.advanceTimersByTime(60_000)
    network.set(false)
    network.set(true)
    expect(server.sockets).toHaveLength(1)

    connection.reconnect()
    expect(server.sockets).toHaveLength(2)
    expect(connection.getSnapshot().state).toBe('connecting')
  })

  it('waits while offline and reconnects at once when the browser is back online', () => {
    const { server, network, connection } = setup()
    connection.start()
    server.last.open()

    network.set(false)
    server.last.drop(1006)
    expect(connection.getSnapshot()).toMatchObject({ state: 'disconnected', online: false })
    vi.advanceTimersByTime(60_000)
    expect(server.sockets).toHaveLength(1)

    network.set(true)
    expect(server.sockets).toHaveLength(2)
    expect(connection.getSnapshot().state).toBe('connecting')
  })

  it('does not connect while offline at start', () => {
    const { server, network, connection } = setup()
    network.set(false)
    connection.start()
    expect(server.sockets).toHaveLength(0)
    network.set(true)
    expect(server.sockets).toHaveLength(1)
  })

  it('reports an error answer to the watch of that job', () => {
    const { server, connection } = setup()
    const job = watcher()
    connection.start()
    connection.watch('job-1', job.handlers)
    server.last.open()
    server.last.emit(notFound('job-1'))
    expect(job.errors).toEqual(['job_not_found'])
  })

  it('pings after silence and drops a socket that does not answer', () => {
    const { server, connection } = setup(() => 0)
    connection.start()
    server.last.open()

    vi.advanceTimersByTime(25_000)
    expect(server.last.sent).toEqual([{ type: 'ping' }])
    server.last.emit({ type: 'pong', ref: null })
    vi.advanceTimersByTime(25_000)
    expect(server.last.sent).toHaveLength(2)

    vi.advanceTimersByTime(25_000)
    expect(server.sockets[0].closedByClient?.code).toBe(4000)
    // A zero-delay timer set during a fake tick is due one millisecond later.
    vi.advanceTimersByTime(1)
    expect(server.sockets).toHaveLength(2)
  })

  it('sends unsubscribe and no longer resubscribes an unwatched job', () => {
    const { server, connection } = setup(() => 0)
    const job = watcher()
    connection.start()
    connection.watch('job-1', job.handlers)
    server.last.open()
    connection.unwatch('job-1')
    expect(server.last.sent.at(-1)).toEqual({ type: 'unsubscribe', job_id: 'job-1' })

    server.last.drop(1006)
    vi.advanceTimersByTime(0)
    server.last.open()
    expect(server.last.sent).toEqual([])
  })

  it('stops for good on stop()', () => {
    const { server, connection } = setup(() => 0)
    connection.start()
    server.last.open()
    connection.stop()
    vi.advanceTimersByTime(60_000)
    expect(server.sockets).toHaveLength(1)
    expect(connection.getSnapshot().state).toBe('disconnected')
  })
})

describe('RelayConnection with tickets (a client with a key: no key in the URL)', () => {
  function ticketSetup(createTicket: (purpose: 'ws') => Promise<{ ticket: string }>) {
    const server = new FakeSocketServer()
    const connection = new RelayConnection({
      url: ticketSocketUrl(createTicket, () => 'ws://edge.test/v1/ws'),
      WebSocket: server.WebSocket,
      network: manualNetworkStatus(),
      random: () => 1,
    })
    return { server, connection }
  }

  it('asks for a fresh ticket before every connection, reconnects included', async () => {
    let issued = 0
    const createTicket = vi.fn(async () => ({ ticket: `t${++issued}` }))
    const { server, connection } = ticketSetup(createTicket)
    const job = watcher()
    connection.start()
    connection.watch('job-1', job.handlers)
    await vi.advanceTimersByTimeAsync(0)
    expect(server.sockets.map((socket) => socket.url)).toEqual(['ws://edge.test/v1/ws?ticket=t1'])
    server.last.open()
    server.last.emit(queued('job-1'))

    server.last.drop(1006)
    await vi.advanceTimersByTimeAsync(500)
    expect(createTicket).toHaveBeenCalledTimes(2)
    expect(createTicket).toHaveBeenCalledWith('ws')
    expect(server.last.url).toBe('ws://edge.test/v1/ws?ticket=t2')
    server.last.open()
    expect(server.subscribes().at(-1)).toEqual({ job_id: 'job-1', after: 1 })
    for (const socket of server.sockets) expect(socket.url).not.toMatch(/api_key|key=/)
  })

  it('retries with backoff when no ticket can be had', async () => {
    let calls = 0
    const createTicket = vi.fn(async () => {
      calls += 1
      if (calls === 1) throw new Error('edge unreachable')
      return { ticket: 'later' }
    })
    const { server, connection } = ticketSetup(createTicket)
    connection.start()
    await vi.advanceTimersByTimeAsync(0)
    expect(server.sockets).toHaveLength(0)
    expect(connection.getSnapshot()).toMatchObject({ state: 'disconnected', attempt: 1 })
    await vi.advanceTimersByTimeAsync(500)
    expect(server.last.url).toBe('ws://edge.test/v1/ws?ticket=later')
  })

  it('opens nothing when stopped while a ticket is on its way', async () => {
    let deliver: (ticket: { ticket: string }) => void = () => {}
    const { server, connection } = ticketSetup(
      () => new Promise((resolve) => (deliver = resolve)),
    )
    connection.start()
    connection.stop()
    deliver({ ticket: 'late' })
    await vi.advanceTimersByTimeAsync(0)
    expect(server.sockets).toHaveLength(0)
    expect(connection.getSnapshot().state).toBe('disconnected')
  })
})
