import type { ConversationSummary } from '../lib/conversations.ts'

interface ConversationListProps {
  conversations: readonly ConversationSummary[]
  activeId: string
  onSelect: (id: string) => void
  onCreate: () => void
  onRemove: (id: string) => void
}

export default function ConversationList(props: ConversationListProps) {
  const { conversations, activeId, onSelect, onCreate, onRemove } = props
  return (
    <nav className="conversations" aria-label="Conversations">
      <button type="button" className="new-chat" onClick={onCreate}>
        New chat
      </button>
      <ul>
        {conversations.map((conversation) => (
          <li key={conversation.id} className={conversation.id === activeId ? 'active' : ''}>
            <button
              type="button"
              className="conversation-button"
              aria-current={conversation.id === activeId ? 'true' : undefined}
              onClick={() => onSelect(conversation.id)}
            >
              {conversation.title}
            </button>
            <button
              type="button"
              className="icon-button"
              aria-label={`Delete “${conversation.title}”`}
              onClick={() => onRemove(conversation.id)}
            >
              ×
            </button>
          </li>
        ))}
      </ul>
    </nav>
  )
}
