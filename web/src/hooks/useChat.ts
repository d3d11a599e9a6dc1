import { useEffect, useMemo, useSyncExternalStore } from 'react'
import type { ChatParams } from '../contracts/jobs.gen.ts'
import { ChatSession } from '../lib/chat.ts'
import type { ChatMessage, ChatStatus } from '../lib/chatMessages.ts'
import { useRelayServices } from './relayContext.ts'

export interface UseChatOptions {
  conversationId: string
  /** The pool for the next answer; defaults to the conversation's last one. */
  model?: string | null
  params?: ChatParams
}

export interface UseChatResult {
  messages: readonly ChatMessage[]
  status: ChatStatus
  error: Error | undefined
  send: (text: string) => Promise<void>
  stop: () => Promise<void>
  regenerate: () => Promise<void>
  clearError: () => void
}

/**
 * A persisted conversation. An answer still being generated when the page went away
 * continues where it was: same job, from the last seq saved with its text.
 */
export function useChat({ conversationId, model, params }: UseChatOptions): UseChatResult {
  const { client, conversations } = useRelayServices()
  const session = useMemo(
    () => new ChatSession({ client, store: conversations, conversationId }),
    [client, conversations, conversationId],
  )
  // Before `start`: a resumed answer is resubmitted with this model and these params.
  useEffect(() => session.setOptions({ model, params }), [session, model, params])
  useEffect(() => {
    session.start()
    return () => session.dispose()
  }, [session])
  const { messages, status, error } = useSyncExternalStore(session.subscribe, session.getSnapshot)
  const actions = useMemo(
    () => ({
      send: (text: string) => session.send(text),
      stop: () => session.stop(),
      regenerate: () => session.regenerate(),
      clearError: () => session.clearError(),
    }),
    [session],
  )
  return { messages, status, error, ...actions }
}
