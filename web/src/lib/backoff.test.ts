import { describe, expect, it } from 'vitest'
import { backoffCeiling, backoffDelay, DEFAULT_BACKOFF } from './backoff.ts'

describe('full-jitter backoff', () => {
  it('doubles the ceiling from 0.5 s up to the 10 s cap', () => {
    const ceilings = Array.from({ length: 8 }, (_, attempt) => backoffCeiling(attempt))
    expect(ceilings).toEqual([500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000])
    expect(backoffCeiling(1000)).toBe(DEFAULT_BACKOFF.capMilliseconds)
  })

  it('waits a uniformly random time below the ceiling', () => {
    expect(backoffDelay(3, DEFAULT_BACKOFF, () => 0)).toBe(0)
    expect(backoffDelay(3, DEFAULT_BACKOFF, () => 0.5)).toBe(2000)
    expect(backoffDelay(3, DEFAULT_BACKOFF, () => 0.999)).toBe(3996)
  })
})
