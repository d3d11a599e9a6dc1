import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { ChatSession } from './chat.ts'
import { ConversationStore } from './conversations.ts'
import { delta, ended, notFound, queued, started } from './testing/events.ts'
import { createHarness, memoryStorage } from './testing/harness.ts'

function session(harness: ReturnType<typeof createHarness>, conversationId = 'c1') {
  const chat = new ChatSession({
    client: harness.client,
    store: new ConversationStore(harness.storage, undefined),
    conversationId,
    model: 'sim',
    persistMilliseconds: 0,
  })
  chat.start()
  return chat
}

async function sent(harness: ReturnType<typeof createHarness>, chat: ChatSession, text: string) {
  const before = harness.requests.length
  await chat.send(text)
  harness.server.last.open()
  expect(harness.requests, 'send made no request').toHaveLength(before + 1)
  return `job-${harness.jobs.size}`
}

describe('ChatSession', () => {
  it('sends the conversation, streams the answer and ends ready', async () => {
    const harness = createHarness()
    const chat = session(harness)
    const jobId = await sent(harness, chat, 'Hello?')

    expect(chat.getSnapshot().status).toBe('submitted')
    expect(harness.requests[0]).toMatchObject({
      model: 'sim',
      input: { messages: [{ role: 'user', content: 'Hello?' }] },
    })
    // A chat is interactive: it waits for no batch job.
    expect(harness.requests[0].priority ?? 'interactive').toBe('interactive')
    harness.server.last.emit(queued(jobId))
    harness.server.last.emit(started(jobId, 2))
    harness.server.last.emit(delta(jobId, 3, 'Hi'))
    harness.frames.run()
    expect(chat.getSnapshot().status).toBe('streaming')
    expect(chat.getSnapshot().messages.at(-1)?.content).toBe('Hi')

    harness.server.last.emit(delta(jobId, 4, ' there'))
    harness.server.last.emit(ended(jobId, 5))
    harness.frames.run()
    const { messages, status } = chat.getSnapshot()
    expect(status).toBe('ready')
    expect(messages.map((message) => [message.role, message.content])).toEqual([
      ['user', 'Hello?'],
      ['assistant', 'Hi there'],
    ])
    expect(messages[1].answer).toMatchObject({ jobId, lastSeq: 5, state: 'done' })
  })

  it('resumes an answer after a reload from the stored text and seq, exactly', async () => {
    const storage = memoryStorage()
    const first = createHarness({ storage })
    const chat = session(first)
    const jobId = await sent(first, chat, 'Tell me')
    first.server.last.emit(queued(jobId))
    first.server.last.emit(started(jobId, 2))
    first.server.last.emit(delta(jobId, 3, 'One, '))
    first.frames.run()
    chat.dispose()

    // A new page: new client, new socket, same storage.
    const second = createHarness({ storage })
    const resumed = session(second)
    second.server.last.open()
    expect(second.server.subscribes()).toEqual([{ job_id: jobId, after: 3 }])
    expect(resumed.getSnapshot().status).toBe('streaming')
    expect(second.requests).toEqual([])

    second.server.last.emit(delta(jobId, 4, 'two.'))
    second.server.last.emit(ended(jobId, 5))
    second.frames.run()
    expect(resumed.getSnapshot().messages.at(-1)?.content).toBe('One, two.')
  })

  it('submits again with the same idempotency key when reloaded before the edge answered', async () => {
    const storage = memoryStorage()
    const first = createHarness({ storage })
    first.api.submitJob.mockImplementationOnce(() => new Promise(() => {}))
    const chat = session(first)
    void chat.send('Hello')
    await vi.waitFor(() => expect(first.api.submitJob).toHaveBeenCalledTimes(1))
    chat.dispose()

    const second = createHarness({ storage })
    session(second)
    await vi.waitFor(() => expect(second.requests).toHaveLength(1))
    const firstKey = first.api.submitJob.mock.calls[0][0].idempotency_key
    expect(firstKey).toEqual(expect.any(String))
    expect(second.requests[0].idempotency_key).toBe(firstKey)
  })

  it('stops an answer: the job is cancelled and the text so far is kept', async () => {
    const harness = createHarness()
    const chat = session(harness)
    const jobId = await sent(harness, chat, 'Go on')
    harness.server.last.emit(queued(jobId))
    harness.server.last.emit(delta(jobId, 2, 'partial'))
    harness.frames.run()

    await chat.stop()
    expect(harness.api.cancelJob).toHaveBeenCalledWith(jobId)
    harness.server.last.emit(ended(jobId, 3, 'cancelled'))
    harness.frames.run()
    expect(chat.getSnapshot().status).toBe('ready')
    expect(chat.getSnapshot().messages.at(-1)).toMatchObject({
      content: 'partial',
      answer: { state: 'stopped' },
    })
  })

  it('regenerates the last answer from the same question', async () => {
    const harness = createHarness()
    const chat = session(harness)
    const jobId = await sent(harness, chat, 'Question')
    harness.server.last.emit(queued(jobId))
    harness.server.last.emit(delta(jobId, 2, 'first answer'))
    harness.server.last.emit(ended(jobId, 3))
    harness.frames.run()

    await chat.regenerate()
    const { messages } = chat.getSnapshot()
    expect(messages).toHaveLength(2)
    expect(messages[1]).toMatchObject({ content: '', answer: { state: 'pending', jobId: 'job-2' } })
    expect(harness.requests[1].input).toEqual({ messages: [{ role: 'user', content: 'Question' }] })
  })

  it('reports a failed answer as an error, and clearError clears it', async () => {
    const harness = createHarness()
    const chat = session(harness)
    const jobId = await sent(harness, chat, 'Break')
    harness.server.last.emit(queued(jobId))
    harness.server.last.emit(ended(jobId, 2, 'failed'))
    harness.frames.run()

    expect(chat.getSnapshot().status).toBe('error')
    expect(chat.getSnapshot().error?.message).toBe('the model broke')
    chat.clearError()
    expect(chat.getSnapshot()).toMatchObject({ status: 'ready', error: undefined })
  })

  it('tells the user when a resumed answer could not be recovered', async () => {
    const storage = memoryStorage()
    const first = createHarness({ storage })
    const chat = session(first)
    const jobId = await sent(first, chat, 'Hello')
    first.server.last.emit(delta(jobId, 1, 'half'))
    first.frames.run()
    chat.dispose()

    const second = createHarness({ storage })
    const resumed = session(second)
    second.server.last.open()
    second.server.last.emit(notFound(jobId))
    second.frames.run()
    expect(resumed.getSnapshot().status).toBe('error')
    expect(resumed.getSnapshot().messages.at(-1)).toMatchObject({
      content: 'half',
      answer: { state: 'lost' },
    })
    expect(resumed.getSnapshot().error?.message).toMatch(/could not be recovered/)
  })

  it('does not bring back a conversation deleted while its answer streamed', async () => {
    vi.useFakeTimers()
    onTestFinished(() => void vi.useRealTimers())
    const harness = createHarness()
    const store = new ConversationStore(harness.storage, undefined)
    const chat = new ChatSession({
      client: harness.client,
      store,
      conversationId: 'c1',
      model: 'sim',
    })
    chat.start()
    const jobId = await sent(harness, chat, 'Hello')
    harness.server.last.emit(delta(jobId, 1, 'partial'))
    harness.frames.run()

    store.remove('c1')
    chat.dispose()
    // A save deferred while the answer streamed must not write it back either.
    await vi.advanceTimersByTimeAsync(300)
    expect(store.load('c1')).toBeUndefined()
    expect(store.list()).toEqual([])
  })

  it('shows an error set while the answer streams as the status, not streaming', async () => {
    const harness = createHarness()
    const chat = session(harness)
    const jobId = await sent(harness, chat, 'Go on')
    harness.server.last.emit(queued(jobId))
    harness.server.last.emit(delta(jobId, 2, 'partial'))
    harness.frames.run()
    harness.api.cancelJob.mockRejectedValueOnce(new Error('edge unreachable'))

    await chat.stop()
    harness.server.last.emit(delta(jobId, 3, ' more'))
    harness.frames.run()
    expect(chat.getSnapshot()).toMatchObject({
      status: 'error',
      error: { message: 'edge unreachable' },
    })
    chat.clearError()
    expect(chat.getSnapshot()).toMatchObject({ status: 'streaming', error: undefined })
  })
})
