import { useEffect, useId, useMemo, useRef, useState } from 'react'
import ChatComposer from '../components/ChatComposer.tsx'
import ChatMessageItem from '../components/ChatMessageItem.tsx'
import ConversationList from '../components/ConversationList.tsx'
import ModelSelect from '../components/ModelSelect.tsx'
import { useChat } from '../hooks/useChat.ts'
import { useConversations } from '../hooks/useConversations.ts'
import { useModels } from '../hooks/useModels.ts'
import { useRelayServices } from '../hooks/relayContext.ts'
import { randomId } from '../lib/ids.ts'
import { defaultModel } from '../lib/models.ts'

/** The conversations on the side, the open one in the middle. */
export default function ChatPage() {
  const { conversations: store } = useRelayServices()
  const { conversations, remove } = useConversations()
  const [activeId, setActiveId] = useState(() => store.activeId() ?? randomId())
  useEffect(() => store.setActiveId(activeId), [store, activeId])

  const removeConversation = (id: string) => {
    remove(id)
    if (id === activeId) setActiveId(randomId())
  }
  return (
    <div className="chat-layout">
      <ConversationList
        conversations={conversations}
        activeId={activeId}
        onSelect={setActiveId}
        onCreate={() => setActiveId(randomId())}
        onRemove={removeConversation}
      />
      <Conversation
        key={activeId}
        conversationId={activeId}
        title={conversations.find((item) => item.id === activeId)?.title ?? 'New chat'}
      />
    </div>
  )
}

function Conversation({ conversationId, title }: { conversationId: string; title: string }) {
  const { conversations: store } = useRelayServices()
  const { models } = useModels()
  const stored = useMemo(() => store.load(conversationId), [store, conversationId])
  const [chosen, setChosen] = useState<string | null>(stored?.model ?? null)
  const [maxTokens, setMaxTokens] = useState('')
  const model = chosen ?? defaultModel(models, 'chat')
  const params = useMemo(
    () => (maxTokens === '' ? {} : { max_tokens: Number(maxTokens) }),
    [maxTokens],
  )
  const chat = useChat({ conversationId, model, params })
  const { messages, status, error } = chat
  const tokensId = useId()
  const end = useRef<HTMLDivElement>(null)
  const lastLength = messages.at(-1)?.content.length ?? 0

  useEffect(() => {
    end.current?.scrollIntoView?.({ block: 'end' })
  }, [messages.length, lastLength])

  return (
    <section className="chat" aria-labelledby="chat-title">
      <div className="chat-header">
        <h1 id="chat-title">{title}</h1>
        <div className="chat-settings">
          <ModelSelect
            label="Model"
            kind="chat"
            models={models}
            value={model}
            onChange={setChosen}
          />
          <span className="field inline-field">
            <label htmlFor={tokensId}>Max tokens</label>
            <input
              id={tokensId}
              type="number"
              min={1}
              max={4096}
              inputMode="numeric"
              placeholder="default"
              value={maxTokens}
              onChange={(event) => setMaxTokens(event.target.value)}
            />
          </span>
        </div>
      </div>
      <ol
        className="messages"
        role="log"
        aria-label="Messages"
        aria-busy={status === 'submitted' || status === 'streaming'}
        data-status={status}
        data-testid="messages"
      >
        {messages.length === 0 && (
          <li className="empty muted">Ask anything. Answers stream in and survive a reload.</li>
        )}
        {messages.map((message) => (
          <ChatMessageItem key={message.id} message={message} />
        ))}
      </ol>
      <div ref={end} />
      {error && (
        <div className="banner error" role="alert">
          <span>{error.message}</span>
          <button type="button" className="link-button" onClick={chat.clearError}>
            Dismiss
          </button>
        </div>
      )}
      <ChatComposer
        status={status}
        disabled={model === null}
        canRegenerate={messages.some((message) => message.role === 'assistant')}
        onSend={(text) => void chat.send(text)}
        onStop={() => void chat.stop()}
        onRegenerate={() => void chat.regenerate()}
      />
    </section>
  )
}
