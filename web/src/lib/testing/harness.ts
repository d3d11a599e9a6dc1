/** A Relay for tests: fake WebSocket server, fake API, memory storage, frames run by hand. */
import type { ModelInfo } from '../../contracts/models.gen.ts'
import { RelayConnection } from '../connection.ts'
import type { KeyValueStorage } from '../conversations.ts'
import { createRelay } from '../relay.ts'
import { RelayClient } from '../relayClient.ts'
import { createFakeApi } from './fakeApi.ts'
import { FakeSocketServer } from './fakeWebSocket.ts'
import { manualNetworkStatus } from './network.ts'

export function memoryStorage(): KeyValueStorage & { data: Map<string, string> } {
  const data = new Map<string, string>()
  return {
    data,
    getItem: (key) => data.get(key) ?? null,
    setItem: (key, value) => void data.set(key, value),
    removeItem: (key) => void data.delete(key),
  }
}

/** Frames that run only when the test says so: `frames.run()`. */
export function manualFrames() {
  let callbacks: Array<() => void> = []
  return {
    schedule: (callback: () => void) => void callbacks.push(callback),
    get pending() {
      return callbacks.length
    },
    run() {
      const due = callbacks
      callbacks = []
      for (const callback of due) callback()
    },
  }
}

export function createHarness(options: { models?: ModelInfo[]; storage?: KeyValueStorage } = {}) {
  const server = new FakeSocketServer((message, socket) => {
    // By default the server confirms subscriptions, as the edge does.
    if (message.type === 'subscribe') {
      socket.emit({
        type: 'subscribed',
        job_id: message.job_id,
        after: message.after ?? 0,
        ref: null,
      })
    }
  })
  const network = manualNetworkStatus()
  const frames = manualFrames()
  const fake = createFakeApi(options.models)
  const connection = new RelayConnection({
    url: 'ws://edge.test/v1/ws',
    WebSocket: server.WebSocket,
    network,
    random: () => 0.5,
  })
  const client = new RelayClient({ api: fake.api, connection, schedule: frames.schedule })
  const storage = options.storage ?? memoryStorage()
  const relay = createRelay({ client, storage })
  return {
    server,
    network,
    frames,
    api: fake.api,
    jobs: fake.jobs,
    requests: fake.requests,
    queue: fake.queue,
    connection,
    client,
    relay,
    storage,
  }
}
