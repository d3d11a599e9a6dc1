// The example component of docs/api.md ("Vercel AI SDK (useChat)"), as the browser test
// builds and runs it: useChat with DefaultChatTransport against /v1/ui/chat, resume, stop.
import { useChat } from '@ai-sdk/react'
import { DefaultChatTransport } from 'ai'
import { useState } from 'react'

export function Chat({ chatId, model }: { chatId: string; model: string }) {
  const [input, setInput] = useState('')
  const { messages, sendMessage, status, stop, error } = useChat({
    id: chatId, // the same id after a reload: resume finds the chat's running answer
    resume: true, // on mount: GET /v1/ui/chat/{chatId}/stream (204 when nothing runs)
    transport: new DefaultChatTransport({
      api: '/v1/ui/chat',
      body: { model, params: { max_tokens: 200 } },
    }),
  })

  async function stopAnswer() {
    stop() // closes this tab's stream only: a disconnect never cancels the answer
    await fetch(`/v1/ui/chat/${encodeURIComponent(chatId)}/stop`, { method: 'POST' })
  }

  return (
    <main>
      {messages.map((message) => (
        <div key={message.id} className="message" data-role={message.role} data-id={message.id}>
          {message.parts.map((part, index) =>
            part.type === 'text' ? <span key={index}>{part.text}</span> : null,
          )}
        </div>
      ))}
      {error && <p role="alert">{error.message}</p>}
      <form
        onSubmit={(event) => {
          event.preventDefault()
          sendMessage({ text: input })
          setInput('')
        }}
      >
        <input value={input} onChange={(event) => setInput(event.target.value)} />
        <button type="submit" disabled={status !== 'ready'}>
          Send
        </button>
        <button type="button" onClick={stopAnswer} disabled={status !== 'streaming'}>
          Stop
        </button>
      </form>
      <output data-testid="status">{status}</output>
    </main>
  )
}
