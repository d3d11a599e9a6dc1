/**
 * Runs a callback once per animation frame at most. Tokens arrive faster than frames, so
 * state changes are gathered and applied together. A hidden tab gets no animation frames,
 * hence the timer that fires if no frame came in time.
 */
export type FrameScheduler = (callback: () => void) => void

export function animationFrameScheduler(fallbackMilliseconds = 100): FrameScheduler {
  return (callback) => {
    let done = false
    const run = () => {
      if (done) return
      done = true
      clearTimeout(timer)
      if (frame !== undefined) cancelAnimationFrame(frame)
      callback()
    }
    const timer = setTimeout(run, fallbackMilliseconds)
    const frame =
      typeof requestAnimationFrame === 'function' ? requestAnimationFrame(run) : undefined
  }
}

/** Coalesces many `request()` calls into one `flush` per scheduled frame. */
export class FrameBatcher {
  private scheduled = false
  private readonly schedule: FrameScheduler
  private readonly flush: () => void

  constructor(flush: () => void, schedule: FrameScheduler = animationFrameScheduler()) {
    this.flush = flush
    this.schedule = schedule
  }

  request(): void {
    if (this.scheduled) return
    this.scheduled = true
    this.schedule(() => {
      this.scheduled = false
      this.flush()
    })
  }
}
