/** Everything a tab shares: one client (one WebSocket), the conversations, the job list. */
import type { Api } from './api.ts'
import { ConversationStore, type KeyValueStorage } from './conversations.ts'
import { JobsFeed } from './jobsFeed.ts'
import { RelayClient, type RelayClientOptions } from './relayClient.ts'
import { SystemMonitor } from './systemMonitor.ts'

export interface Relay {
  client: RelayClient
  api: Api
  conversations: ConversationStore
  jobs: JobsFeed
  system: SystemMonitor
}

export interface RelayOptions extends RelayClientOptions {
  client?: RelayClient
  storage?: KeyValueStorage
}

export function createRelay(options: RelayOptions = {}): Relay {
  const client = options.client ?? new RelayClient(options)
  return {
    client,
    api: client.api,
    conversations: new ConversationStore(options.storage),
    jobs: new JobsFeed({ client }),
    system: new SystemMonitor({ api: client.api }),
  }
}
