import { act, cleanup, screen } from '@testing-library/react'
import { afterEach, describe, expect, it } from 'vitest'
import { newAnswer, newConversation } from '../lib/chatMessages.ts'
import { ConversationStore } from '../lib/conversations.ts'
import { delta, ended, queued, started } from '../lib/testing/events.ts'
import { createHarness } from '../lib/testing/harness.ts'
import { renderWithRelay } from '../testing/render.tsx'
import { useChat, type UseChatResult } from './useChat.ts'

afterEach(cleanup)

function Probe({ onRender }: { onRender: (chat: UseChatResult) => void }) {
  const chat = useChat({ conversationId: 'c1', model: 'sim' })
  onRender(chat)
  const last = chat.messages.at(-1)
  return (
    <p data-testid="probe" data-status={chat.status}>
      {last?.content}
    </p>
  )
}

function setup() {
  const renders: UseChatResult[] = []
  const harness = createHarness()
  renderWithRelay(<Probe onRender={(chat) => renders.push(chat)} />, harness)
  return { harness, renders, latest: () => renders[renders.length - 1] }
}

describe('useChat', () => {
  it('returns messages, status and actions, and streams an answer', async () => {
    const { harness, latest } = setup()
    expect(Object.keys(latest()).sort()).toEqual(
      ['clearError', 'error', 'messages', 'regenerate', 'send', 'status', 'stop'].sort(),
    )
    expect(latest().status).toBe('idle')

    await act(() => latest().send('Hello'))
    act(() => harness.server.last.open())
    expect(screen.getByTestId('probe').dataset.status).toBe('submitted')

    act(() => {
      harness.server.last.emit(queued('job-1'))
      harness.server.last.emit(started('job-1', 2))
      harness.server.last.emit(delta('job-1', 3, 'Hi'))
      harness.frames.run()
    })
    expect(screen.getByTestId('probe').textContent).toBe('Hi')
    expect(latest().status).toBe('streaming')

    act(() => {
      harness.server.last.emit(ended('job-1', 4))
      harness.frames.run()
    })
    expect(latest().status).toBe('ready')
  })

  it('renders once per animation frame, however many tokens arrived', async () => {
    const { harness, renders, latest } = setup()
    await act(() => latest().send('Hello'))
    act(() => {
      harness.server.last.open()
      harness.server.last.emit(queued('job-1'))
      harness.frames.run()
    })

    const before = renders.length
    act(() => {
      for (let seq = 2; seq < 202; seq += 1) harness.server.last.emit(delta('job-1', seq, 'x'))
    })
    expect(renders.length).toBe(before)
    act(() => harness.frames.run())
    expect(renders.length).toBe(before + 1)
    expect(latest().messages.at(-1)?.content).toBe('x'.repeat(200))
  })

  it('keeps the conversation across a remount (a reload) and continues the answer', async () => {
    const storage = createHarness().storage
    const first = createHarness({ storage })
    const renders: UseChatResult[] = []
    const view = renderWithRelay(<Probe onRender={(chat) => renders.push(chat)} />, first)
    await act(() => renders[renders.length - 1].send('Hello'))
    act(() => {
      first.server.last.open()
      first.server.last.emit(queued('job-1'))
      first.server.last.emit(delta('job-1', 2, 'Half'))
      first.frames.run()
    })
    view.unmount()

    const second = createHarness({ storage })
    renderWithRelay(<Probe onRender={() => {}} />, second)
    expect(screen.getByTestId('probe').textContent).toBe('Half')
    act(() => second.server.last.open())
    expect(second.server.subscribes()).toEqual([{ job_id: 'job-1', after: 2 }])
    act(() => {
      second.server.last.emit(delta('job-1', 3, ' and the rest'))
      second.frames.run()
    })
    expect(screen.getByTestId('probe').textContent).toBe('Half and the rest')
    expect(second.requests).toEqual([])
  })

  it('resubmits an answer reloaded before the edge answered with the model and params', async () => {
    const harness = createHarness()
    const answer = newAnswer()
    new ConversationStore(harness.storage, undefined).save({
      ...newConversation('c1', 'sim'),
      messages: [{ id: 'u1', role: 'user', content: 'Hello' }, answer],
    })
    const params = { temperature: 0.2, max_tokens: 64 }
    function Resumed() {
      useChat({ conversationId: 'c1', model: 'sim', params })
      return null
    }
    renderWithRelay(<Resumed />, harness)
    await act(async () => {})
    expect(harness.requests).toHaveLength(1)
    expect(harness.requests[0]).toMatchObject({
      model: 'sim',
      params,
      idempotency_key: answer.answer?.idempotencyKey,
    })
  })
})
