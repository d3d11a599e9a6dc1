import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ApiError } from './api.ts'
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

describe('SystemMonitor.retainQueue', () => {
  const chat = {
    pool: 'sim',
    interactive: 1,
    batch: 90,
    users: [
      { user: 'alice', interactive: 0, batch: 90 },
      { user: 'bob', interactive: 1, batch: 0 },
    ],
    other_users: 0,
  }

  it('polls the queue by user at the same cadence, and only while held', async () => {
    const { api, queue } = createFakeApi([model('sim')])
    queue.push(chat)
    const monitor = new SystemMonitor({ api, intervalMilliseconds: 1000 })
    const releaseModels = monitor.retain()
    await vi.advanceTimersByTimeAsync(2000)
    expect(api.getQueue).not.toHaveBeenCalled()
    expect(monitor.getSnapshot().queueStatus).toBe('off')

    const releaseQueue = monitor.retainQueue()
    await vi.advanceTimersByTimeAsync(0)
    expect(monitor.getSnapshot()).toMatchObject({ queueStatus: 'ready', queue: [chat] })
    await vi.advanceTimersByTimeAsync(3000)
    expect(api.getQueue).toHaveBeenCalledTimes(4)

    releaseQueue()
    expect(monitor.getSnapshot()).toMatchObject({ queueStatus: 'off', queue: [] })
    await vi.advanceTimersByTimeAsync(3000)
    expect(api.getQueue).toHaveBeenCalledTimes(4)
    releaseModels()
  })

  it('stops asking after a 403 (not an operator) until a page asks anew', async () => {
    const { api } = createFakeApi([model('sim')])
    api.getQueue.mockRejectedValue(new ApiError(403, 'forbidden', 'operators only'))
    const monitor = new SystemMonitor({ api, intervalMilliseconds: 1000 })
    const release = monitor.retainQueue()
    await vi.advanceTimersByTimeAsync(5000)
    expect(monitor.getSnapshot()).toMatchObject({
      queueStatus: 'forbidden',
      queueError: undefined,
      status: 'ready',
    })
    expect(api.getQueue).toHaveBeenCalledTimes(1)
    expect(api.listModels).toHaveBeenCalledTimes(6)
    release()
    monitor.retainQueue()
    await vi.advanceTimersByTimeAsync(0)
    expect(api.getQueue).toHaveBeenCalledTimes(2)
  })

  it('keeps the last queue and says why when a read fails otherwise', async () => {
    const { api, queue } = createFakeApi([model('sim')])
    queue.push(chat)
    const monitor = new SystemMonitor({ api, intervalMilliseconds: 1000 })
    const release = monitor.retainQueue()
    await vi.advanceTimersByTimeAsync(0)
    api.getQueue.mockRejectedValueOnce(new ApiError(503, 'redis_unavailable', 'no Redis'))
    await vi.advanceTimersByTimeAsync(1000)
    expect(monitor.getSnapshot()).toMatchObject({ queueStatus: 'error', queue: [chat] })
    expect(monitor.getSnapshot().queueError?.message).toBe('no Redis')
    await vi.advanceTimersByTimeAsync(1000)
    expect(monitor.getSnapshot()).toMatchObject({ queueStatus: 'ready', queueError: undefined })
    release()
  })
})
