/** Full-jitter exponential backoff (the AWS architecture blog's "full jitter"; centrifuge-js). */
export interface BackoffOptions {
  baseMilliseconds: number
  capMilliseconds: number
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMilliseconds: 500, capMilliseconds: 10_000 }

/** The ceiling of the wait before retry number `attempt` (0 for the first retry). */
export function backoffCeiling(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF): number {
  const exponential = options.baseMilliseconds * 2 ** Math.min(attempt, 30)
  return Math.min(options.capMilliseconds, exponential)
}

/** A uniformly random wait in [0, ceiling): spreads reconnecting clients over time. */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  return Math.floor(random() * backoffCeiling(attempt, options))
}
