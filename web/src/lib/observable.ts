/** A value that changes over time, in the shape `useSyncExternalStore` reads. */
export class Observable<T> {
  private readonly listeners = new Set<() => void>()
  protected snapshot: T

  constructor(initial: T) {
    this.snapshot = initial
  }

  /** The current value; the same object until it changes. */
  getSnapshot = (): T => this.snapshot

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener)
    return () => {
      this.listeners.delete(listener)
    }
  }

  protected get listenerCount(): number {
    return this.listeners.size
  }

  protected publish(change: Partial<T>): void {
    this.snapshot = { ...this.snapshot, ...change }
    for (const listener of [...this.listeners]) listener()
  }
}
