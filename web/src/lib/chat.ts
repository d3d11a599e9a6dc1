/**
 * A conversation with a chat model, without React (the AI SDK's `AbstractChat`): send, stop,
 * regenerate, and resume an answer that was still being generated when the page went away.
 * Every change is saved to the ConversationStore: immediately on a new message or a finished
 * answer, at most every `persistMilliseconds` while tokens stream in.
 */
import type { ChatParams } from '../contracts/jobs.gen.ts'
import {
  answerFromJob,
  historyBefore,
  inFlightAnswer,
  isAnswerFinished,
  newAnswer,
  newConversation,
  seedFrom,
  statusOf,
  titleFrom,
  type ChatMessage,
  type ChatStatus,
  type Conversation,
} from './chatMessages.ts'
import { DeferredSave, type ConversationStore } from './conversations.ts'
import { asError } from './errors.ts'
import { randomId } from './ids.ts'
import { Observable } from './observable.ts'
import type { RelayClient } from './relayClient.ts'

export interface ChatSnapshot {
  messages: readonly ChatMessage[]
  status: ChatStatus
  error: Error | undefined
}

export interface ChatSessionOptions {
  client: RelayClient
  store: ConversationStore
  conversationId: string
  model?: string | null
  params?: ChatParams
  persistMilliseconds?: number
  /** Saves the latest state before the page goes away; `window` in a browser. */
  lifecycle?: Pick<Window, 'addEventListener' | 'removeEventListener'>
}

export class ChatSession extends Observable<ChatSnapshot> {
  private readonly options: ChatSessionOptions
  private conversation: Conversation
  private following: { jobId: string; stop: () => void } | null = null
  private readonly saver: DeferredSave
  private stopRequested = false
  private detachers: Array<() => void> = []

  constructor(options: ChatSessionOptions) {
    const { conversationId, model = null, store } = options
    const conversation = store.load(conversationId) ?? newConversation(conversationId, model)
    super({ messages: conversation.messages, status: statusOf(conversation), error: undefined })
    this.options = options
    this.conversation = conversation
    this.saver = new DeferredSave(() => store.save(this.conversation), options.persistMilliseconds)
  }

  setOptions(options: { model?: string | null; params?: ChatParams }): void {
    Object.assign(this.options, options)
  }

  /** Resumes an unfinished answer and follows other tabs' changes; undone by `dispose`. */
  start(): void {
    if (this.detachers.length > 0) return
    const lifecycle = this.options.lifecycle ?? (typeof window === 'undefined' ? undefined : window)
    const save = () => this.saver.now()
    lifecycle?.addEventListener('pagehide', save)
    const unwatch = this.options.store.watch(this.conversation.id, () => this.adoptStored())
    this.detachers = [() => lifecycle?.removeEventListener('pagehide', save), unwatch]
    this.resume()
  }

  dispose(): void {
    for (const detach of this.detachers) detach()
    this.detachers = []
    this.unfollow()
    // A conversation deleted meanwhile stays deleted.
    if (this.options.store.load(this.conversation.id)) this.saver.flush()
    else this.saver.cancel()
  }

  async send(text: string): Promise<void> {
    const content = text.trim()
    if (content === '' || this.busy()) return
    const user: ChatMessage = { id: randomId(), role: 'user', content }
    const first = this.conversation.messages.length === 0
    this.change({
      messages: [...this.conversation.messages, user],
      ...(first ? { title: titleFrom(content) } : {}),
    })
    await this.begin()
  }

  /** Stops the answer being generated; the model stops at its next step. */
  async stop(): Promise<void> {
    const active = inFlightAnswer(this.conversation)
    if (!active?.answer) return
    const jobId = active.answer.jobId
    if (jobId === null) {
      this.stopRequested = true
      return
    }
    try {
      await this.options.client.cancel(jobId)
    } catch (error) {
      this.fail(error)
    }
  }

  /** Replaces the last answer with a new one to the same question. */
  async regenerate(): Promise<void> {
    if (this.busy()) return
    const messages = this.conversation.messages
    const lastUser = messages.findLastIndex((message) => message.role === 'user')
    if (lastUser < 0) return
    this.change({ messages: messages.slice(0, lastUser + 1) })
    await this.begin()
  }

  clearError(): void {
    if (!this.snapshot.error) return
    this.show(undefined)
  }

  /** An answer is in flight (whether or not an error is shown). */
  private busy(): boolean {
    const status = statusOf(this.conversation)
    return status === 'submitted' || status === 'streaming'
  }

  /** The one place the snapshot is derived: the conversation, and an error that wins. */
  private show(error: Error | undefined): void {
    const status = error ? 'error' : statusOf(this.conversation)
    this.publish({ messages: this.conversation.messages, status, error })
  }

  private async begin(): Promise<void> {
    const answer = newAnswer()
    this.stopRequested = false
    this.change({ messages: [...this.conversation.messages, answer], model: this.model() })
    await this.submit(answer)
  }

  private model(): string | null {
    return this.options.model ?? this.conversation.model
  }

  private async submit(message: ChatMessage): Promise<void> {
    const model = this.model()
    if (!message.answer || model === null) {
      this.settle(message.id, 'failed', 'Choose a model first.')
      return
    }
    try {
      const accepted = await this.options.client.submit({
        model,
        input: { messages: historyBefore(this.conversation, message.id) },
        params: { ...this.options.params },
        idempotency_key: message.answer.idempotencyKey,
      })
      this.updateMessage(message.id, (current) =>
        current.answer
          ? { ...current, answer: { ...current.answer, jobId: accepted.id } }
          : current,
      )
      this.saver.now()
      if (this.detachers.length > 0) this.followAnswer(message.id, accepted.id)
      if (this.stopRequested) await this.stop()
    } catch (error) {
      this.settle(message.id, 'failed', asError(error).message)
      this.fail(error)
    }
  }

  private resume(): void {
    const active = inFlightAnswer(this.conversation)
    if (!active?.answer) return
    if (active.answer.jobId === null) {
      // Reloaded before the edge answered: the same idempotency key finds the same job.
      void this.submit(active)
      return
    }
    this.followAnswer(active.id, active.answer.jobId, active)
  }

  private followAnswer(messageId: string, jobId: string, stored?: ChatMessage): void {
    this.unfollow()
    const client = this.options.client
    const release = client.watchJob(jobId, stored && seedFrom(stored))
    const unsubscribe = client.subscribeJob(jobId, () => this.onJob(messageId, jobId))
    this.following = { jobId, stop: () => (unsubscribe(), release()) }
    this.onJob(messageId, jobId)
  }

  private unfollow(): void {
    this.following?.stop()
    this.following = null
  }

  private onJob(messageId: string, jobId: string): void {
    const job = this.options.client.getJob(jobId)
    if (!job) return
    this.updateMessage(messageId, (message) => answerFromJob(message, job))
    if (!isAnswerFinished(job)) return this.saver.soon()
    this.unfollow()
    this.saver.now()
    const message = this.conversation.messages.find((item) => item.id === messageId)
    const state = message?.answer?.state
    if (state === 'failed' || state === 'lost') this.fail(new Error(message?.answer?.error))
  }

  private adoptStored(): void {
    if (this.busy()) return
    const stored = this.options.store.load(this.conversation.id)
    if (!stored) return
    this.conversation = stored
    this.show(this.snapshot.error)
    if (this.detachers.length > 0) this.resume()
  }

  private settle(messageId: string, state: 'failed', error: string): void {
    this.updateMessage(messageId, (message) =>
      message.answer ? { ...message, answer: { ...message.answer, state, error } } : message,
    )
    this.saver.now()
  }

  private fail(error: unknown): void {
    this.show(asError(error))
  }

  private change(update: Partial<Conversation>): void {
    this.conversation = { ...this.conversation, ...update, updatedAt: Date.now() }
    this.show(undefined)
    this.saver.now()
  }

  private updateMessage(messageId: string, update: (message: ChatMessage) => ChatMessage): void {
    const messages = this.conversation.messages.map((message) =>
      message.id === messageId ? update(message) : message,
    )
    this.conversation = { ...this.conversation, messages }
    this.show(this.snapshot.error)
  }
}
