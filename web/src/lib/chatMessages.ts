/**
 * The data of a conversation, and pure functions over it. An assistant answer stores its
 * text together with the job it comes from and the seq that text corresponds to, in one
 * object: whatever was last written, `content` holds exactly the events up to `lastSeq`,
 * so a reload resumes with `subscribe {after: lastSeq}` and never repeats or skips text.
 */
import type { ChatMessage as WireChatMessage } from '../contracts/jobs.gen.ts'
import { randomId } from './ids.ts'
import { outputText } from './jobView.ts'
import { isSettled, type JobState } from './reducer.ts'

export type AnswerState = 'pending' | 'streaming' | 'done' | 'stopped' | 'failed' | 'lost'

export interface AnswerProgress {
  /** null until the edge accepted the job. */
  jobId: string | null
  /** Sent with the submit, so submitting again after a reload cannot create a second job. */
  idempotencyKey: string
  lastSeq: number
  attempt: number
  state: AnswerState
  error?: string
}

export interface ChatMessage {
  id: string
  role: 'user' | 'assistant'
  content: string
  answer?: AnswerProgress
}

export interface Conversation {
  id: string
  title: string
  model: string | null
  messages: ChatMessage[]
  updatedAt: number
}

export type ChatStatus = 'idle' | 'submitted' | 'streaming' | 'ready' | 'error'

export function newConversation(id: string, model: string | null): Conversation {
  return { id, title: 'New chat', model, messages: [], updatedAt: Date.now() }
}

/** An empty answer, before the edge has accepted its job. */
export function newAnswer(): ChatMessage {
  const answer: AnswerProgress = {
    jobId: null,
    idempotencyKey: randomId(),
    lastSeq: 0,
    attempt: 0,
    state: 'pending',
  }
  return { id: randomId(), role: 'assistant', content: '', answer }
}

export function isInFlight(message: ChatMessage | undefined): boolean {
  const state = message?.answer?.state
  return state === 'pending' || state === 'streaming'
}

/** The answer still being generated, if any (only the last message can be). */
export function inFlightAnswer(conversation: Conversation): ChatMessage | undefined {
  const last = conversation.messages.at(-1)
  return isInFlight(last) ? last : undefined
}

export function statusOf(conversation: Conversation): ChatStatus {
  const active = inFlightAnswer(conversation)
  if (active) return active.content === '' ? 'submitted' : 'streaming'
  return conversation.messages.length > 0 ? 'ready' : 'idle'
}

/** What the model is sent: the conversation before `messageId`, without failed answers. */
export function historyBefore(conversation: Conversation, messageId: string): WireChatMessage[] {
  const index = conversation.messages.findIndex((message) => message.id === messageId)
  const earlier = index < 0 ? conversation.messages : conversation.messages.slice(0, index)
  return earlier
    .filter((message) => message.role === 'user' || answerUsable(message))
    .map((message) => ({ role: message.role, content: message.content }))
}

function answerUsable(message: ChatMessage): boolean {
  const state = message.answer?.state
  return message.content !== '' && (state === 'done' || state === 'stopped')
}

function stateFrom(job: JobState): AnswerState {
  if (job.recovery !== 'live') return 'lost'
  switch (job.status) {
    case 'succeeded':
      return 'done'
    case 'cancelled':
      return 'stopped'
    case 'failed':
      return 'failed'
    default:
      return job.text === '' ? 'pending' : 'streaming'
  }
}

/** The message after the job's latest state: text and seq always move together. */
export function answerFromJob(message: ChatMessage, job: JobState): ChatMessage {
  const answer = message.answer
  if (!answer) return message
  const state = stateFrom(job)
  // A live job that has not caught up to what was stored (a reload) keeps the stored text.
  if (state !== 'lost' && job.lastSeq < answer.lastSeq) return message
  let content = state === 'lost' ? message.content : job.text
  if (state === 'done' && content === '') content = outputText(job.output) ?? ''
  const error =
    state === 'failed'
      ? (job.error?.message ?? 'the model failed')
      : state === 'lost'
        ? 'This answer could not be recovered: its event log is gone.'
        : undefined
  return {
    ...message,
    content,
    answer: {
      ...answer,
      lastSeq: state === 'lost' ? answer.lastSeq : job.lastSeq,
      attempt: job.attempt,
      state,
      ...(error === undefined ? {} : { error }),
    },
  }
}

/** What a stored answer already holds, for the stream to continue after it. */
export function seedFrom(message: ChatMessage): Partial<JobState> | undefined {
  const answer = message.answer
  if (!answer) return undefined
  const { lastSeq, attempt } = answer
  return { text: message.content, lastSeq, attempt, status: 'running' }
}

export function isAnswerFinished(job: JobState): boolean {
  return isSettled(job)
}

export function titleFrom(text: string): string {
  const line = text.trim().split('\n')[0] ?? ''
  return line.length > 48 ? `${line.slice(0, 47)}…` : line || 'New chat'
}
