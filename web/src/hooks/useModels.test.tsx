import { act, cleanup } from '@testing-library/react'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createHarness } from '../lib/testing/harness.ts'
import { renderWithRelay } from '../testing/render.tsx'
import { useModels, type ModelsState } from './useModels.ts'

afterEach(cleanup)

describe('useModels', () => {
  it("reads the tab's shared monitor: a remount starts with the list, not []", async () => {
    const harness = createHarness()
    const seen: ModelsState[] = []
    function Probe() {
      seen.push(useModels())
      return null
    }
    const first = renderWithRelay(<Probe />, harness)
    await vi.waitFor(() => expect(seen.at(-1)?.models.map((item) => item.id)).toEqual(['sim']))
    first.unmount()

    // Another conversation: a new component, the same list from its first render.
    seen.length = 0
    renderWithRelay(<Probe />, harness)
    expect(seen[0]).toMatchObject({ status: 'ready', models: [{ id: 'sim' }] })
    await act(async () => {})
    expect(harness.relay.system.getSnapshot().models).toHaveLength(1)
  })
})
