import { describe, expect, it } from 'vitest'
import { model } from './testing/fakeApi.ts'
import { addSample, recentThroughput, sampleOf, throughputSeries } from './throughput.ts'

const at = (seconds: number, done: number, queued = 0) =>
  sampleOf(
    [
      { ...model('sim'), done, queued },
      { ...model('embed', 'embeddings'), done: 1 },
    ],
    seconds * 1000,
  )

describe('throughput', () => {
  it('derives jobs per second from the ended-jobs counter', () => {
    const samples = [at(0, 0), at(2, 10), at(4, 30)]
    expect(throughputSeries(samples)).toEqual([5, 10])
    expect(recentThroughput(samples)).toBe(7.5)
    expect(recentThroughput(samples, 'embed')).toBe(0)
  })

  it('treats a counter that went backwards (a restart) as zero', () => {
    expect(throughputSeries([at(0, 50), at(2, 0)])).toEqual([0])
  })

  it('keeps the newest samples only', () => {
    let samples = [at(0, 0)]
    for (let second = 1; second < 10; second += 1)
      samples = addSample(samples, at(second, second), 5)
    expect(samples.map((sample) => sample.at)).toEqual([5000, 6000, 7000, 8000, 9000])
  })
})
