import { useId, useState, type FormEvent, type KeyboardEvent } from 'react'
import type { ChatStatus } from '../lib/chatMessages.ts'

interface ChatComposerProps {
  status: ChatStatus
  canRegenerate: boolean
  disabled: boolean
  onSend: (text: string) => void
  onStop: () => void
  onRegenerate: () => void
}

/** Enter sends, Shift+Enter starts a new line; Stop while an answer is being written. */
export default function ChatComposer(props: ChatComposerProps) {
  const { status, canRegenerate, disabled, onSend, onStop, onRegenerate } = props
  const [text, setText] = useState('')
  const id = useId()
  const busy = status === 'submitted' || status === 'streaming'

  const submit = (event?: FormEvent) => {
    event?.preventDefault()
    if (busy || disabled || text.trim() === '') return
    onSend(text)
    setText('')
  }

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault()
      submit()
    }
  }

  return (
    <form className="composer" onSubmit={submit}>
      <label htmlFor={id} className="visually-hidden">
        Your message
      </label>
      <textarea
        id={id}
        value={text}
        rows={3}
        placeholder="Ask something…"
        aria-describedby={`${id}-hint`}
        onChange={(event) => setText(event.target.value)}
        onKeyDown={onKeyDown}
      />
      <div className="composer-actions">
        <p id={`${id}-hint`} className="hint muted">
          Enter to send · Shift+Enter for a new line
        </p>
        {canRegenerate && !busy && (
          <button type="button" className="secondary" onClick={onRegenerate}>
            Regenerate
          </button>
        )}
        {busy ? (
          <button type="button" className="danger" onClick={onStop}>
            Stop
          </button>
        ) : (
          <button type="submit" disabled={disabled || text.trim() === ''}>
            Send
          </button>
        )}
      </div>
    </form>
  )
}
