import { useSyncExternalStore } from 'react'
import type { ConversationSummary } from '../lib/conversations.ts'
import { useRelayServices } from './relayContext.ts'

export interface UseConversationsResult {
  conversations: ConversationSummary[]
  remove: (id: string) => void
}

/** The saved conversations, newest first; other tabs' changes included. */
export function useConversations(): UseConversationsResult {
  const { conversations: store } = useRelayServices()
  const conversations = useSyncExternalStore(store.subscribe, store.list)
  return { conversations, remove: (id) => store.remove(id) }
}
