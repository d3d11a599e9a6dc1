import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createFakeApi, model } from './testing/fakeApi.ts'
import { SystemMonitor } from './systemMonitor.ts'

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

describe('SystemMonitor', () => {
  it('polls on an interval and publishes the models', async () => {
    const { api } = createFakeApi([model('sim')])
    const monitor = new SystemMonitor({ api, intervalMilliseconds: 1000 })
    monitor.start()
    await vi.advanceTimersByTimeAsync(0)
    expect(monitor.getSnapshot()).toMatchObject({ status: 'ready', models: [{ id: 'sim' }] })
    await vi.advanceTimersByTimeAsync(3000)
    expect(api.listModels).toHaveBeenCalledTimes(4)
    monitor.stop()
  })

  it('keeps one polling loop when restarted while a request is in flight', async () => {
    const { api } = createFakeApi([model('sim')])
    let release: () => void = () => {}
    api.listModels.mockImplementationOnce(
      () =>
        new Promise((resolve) => {
          release = () => resolve({ object: 'list', data: [model('sim')] })
        }),
    )
    const monitor = new SystemMonitor({ api, intervalMilliseconds: 1000 })
    // StrictMode, or leaving /system and coming back before the first answer.
    monitor.start()
    monitor.stop()
    monitor.start()
    release()
    await vi.advanceTimersByTimeAsync(0)
    expect(api.listModels).toHaveBeenCalledTimes(2)

    await vi.advanceTimersByTimeAsync(5000)
    // One loop: one request a second after the second start, not two.
    expect(api.listModels).toHaveBeenCalledTimes(7)
    monitor.stop()
    await vi.advanceTimersByTimeAsync(5000)
    expect(api.listModels).toHaveBeenCalledTimes(7)
  })
})

describe('SystemMonitor.retain', () => {
  it('polls while anyone holds it', async () => {
    const { api } = createFakeApi([model('sim')])
    const monitor = new SystemMonitor({ api, intervalMilliseconds: 1000 })
    const releaseChat = monitor.retain()
    const releaseSystem = monitor.retain()
    await vi.advanceTimersByTimeAsync(0)
    releaseChat()
    releaseChat()
    await vi.advanceTimersByTimeAsync(2000)
    expect(api.listModels).toHaveBeenCalledTimes(3)
    releaseSystem()
    await vi.advanceTimersByTimeAsync(5000)
    expect(api.listModels).toHaveBeenCalledTimes(3)
  })
})
