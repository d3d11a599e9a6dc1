/**
 * Conversations in localStorage: one key per conversation (so an answer's text and seq are
 * written together, atomically) and an index for the list. Other tabs' writes arrive as
 * `storage` events and are passed on to listeners.
 */
import type { Conversation } from './chatMessages.ts'

export interface KeyValueStorage {
  getItem(key: string): string | null
  setItem(key: string, value: string): void
  removeItem(key: string): void
}

export interface ConversationSummary {
  id: string
  title: string
  updatedAt: number
}

/** Where `storage` events come from: `window` in a browser. */
export interface StorageEvents {
  addEventListener(type: 'storage', listener: (event: StorageEvent) => void): void
  removeEventListener(type: 'storage', listener: (event: StorageEvent) => void): void
}

const PREFIX = 'relayline.chat.v1.'
const INDEX_KEY = `${PREFIX}index`
const ACTIVE_KEY = `${PREFIX}active`
const conversationKey = (id: string) => `${PREFIX}conversation.${id}`

function parse<T>(text: string | null, valid: (value: unknown) => boolean): T | undefined {
  if (text === null) return undefined
  try {
    const value: unknown = JSON.parse(text)
    return valid(value) ? (value as T) : undefined
  } catch {
    return undefined
  }
}

const isConversation = (value: unknown) =>
  typeof value === 'object' &&
  value !== null &&
  'messages' in value &&
  Array.isArray(value.messages)

export class ConversationStore {
  private readonly storage: KeyValueStorage
  private readonly events: StorageEvents | undefined
  private readonly listeners = new Set<(key: string | null) => void>()
  private summaries: ConversationSummary[]

  constructor(
    storage: KeyValueStorage = localStorage,
    events: StorageEvents | undefined = typeof window === 'undefined' ? undefined : window,
  ) {
    this.storage = storage
    this.events = events
    this.summaries = this.readIndex()
  }

  list = (): ConversationSummary[] => this.summaries

  /** Changes to the list, and to any conversation made by another tab (with its key). */
  subscribe = (listener: (key: string | null) => void): (() => void) => {
    if (this.listeners.size === 0) this.events?.addEventListener('storage', this.onStorage)
    this.listeners.add(listener)
    return () => {
      this.listeners.delete(listener)
      if (this.listeners.size === 0) this.events?.removeEventListener('storage', this.onStorage)
    }
  }

  /** Calls `listener` when another tab saved conversation `id`. */
  watch(id: string, listener: () => void): () => void {
    const key = conversationKey(id)
    return this.subscribe((changed) => {
      if (changed === key) listener()
    })
  }

  load(id: string): Conversation | undefined {
    return parse<Conversation>(this.storage.getItem(conversationKey(id)), isConversation)
  }

  save(conversation: Conversation): void {
    this.write(conversationKey(conversation.id), JSON.stringify(conversation))
    const summary = {
      id: conversation.id,
      title: conversation.title,
      updatedAt: conversation.updatedAt,
    }
    const known = this.summaries.find((item) => item.id === conversation.id)
    if (known && known.title === summary.title && known.updatedAt === summary.updatedAt) return
    const others = this.summaries.filter((item) => item.id !== conversation.id)
    this.setIndex([summary, ...others].sort((left, right) => right.updatedAt - left.updatedAt))
  }

  remove(id: string): void {
    this.storage.removeItem(conversationKey(id))
    this.setIndex(this.summaries.filter((item) => item.id !== id))
  }

  activeId(): string | null {
    return this.storage.getItem(ACTIVE_KEY)
  }

  setActiveId(id: string): void {
    this.write(ACTIVE_KEY, id)
  }

  private setIndex(summaries: ConversationSummary[]): void {
    this.summaries = summaries
    this.write(INDEX_KEY, JSON.stringify(summaries))
    this.notify(null)
  }

  private write(key: string, value: string): void {
    try {
      this.storage.setItem(key, value)
    } catch {
      // Storage full or disabled: the conversation lives on in memory for this tab.
    }
  }

  private readIndex(): ConversationSummary[] {
    return parse<ConversationSummary[]>(this.storage.getItem(INDEX_KEY), Array.isArray) ?? []
  }

  private notify(key: string | null): void {
    for (const listener of [...this.listeners]) listener(key)
  }

  private onStorage = (event: StorageEvent): void => {
    if (event.key !== null && !event.key.startsWith(PREFIX)) return
    if (event.key === null || event.key === INDEX_KEY) this.summaries = this.readIndex()
    this.notify(event.key)
  }
}

/** Saves at most once per `milliseconds` (`soon`), or at once (`now`). */
export class DeferredSave {
  private timer: ReturnType<typeof setTimeout> | undefined
  private readonly save: () => void
  private readonly milliseconds: number

  constructor(save: () => void, milliseconds = 250) {
    this.save = save
    this.milliseconds = milliseconds
  }

  soon(): void {
    if (this.timer === undefined) this.timer = setTimeout(() => this.now(), this.milliseconds)
  }

  now(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.save()
  }

  /** Drops a waiting save (the conversation was deleted). */
  cancel(): void {
    clearTimeout(this.timer)
    this.timer = undefined
  }

  /** Saves now if a save is waiting. */
  flush(): void {
    if (this.timer !== undefined) this.now()
  }
}
