import { useEffect, useState } from 'react'
import type { ModelInfo } from '../contracts/models.gen.ts'
import { api as edgeApi, type Api } from '../lib/api.ts'

export type ModelsStatus = 'loading' | 'ready' | 'error'

export interface UseModelsOptions {
  api?: Api
  /** How often to ask again: live worker counts change as workers come and go. */
  refreshMilliseconds?: number
}

export interface ModelsState {
  models: ModelInfo[]
  status: ModelsStatus
  error: Error | undefined
}

/** The edge's models, refreshed on an interval; a failed refresh keeps the last list. */
export function useModels({
  api = edgeApi,
  refreshMilliseconds = 5000,
}: UseModelsOptions = {}): ModelsState {
  const [state, setState] = useState<ModelsState>({
    models: [],
    status: 'loading',
    error: undefined,
  })

  useEffect(() => {
    let active = true
    let timer: ReturnType<typeof setTimeout> | undefined
    async function load() {
      try {
        const list = await api.listModels()
        if (active) setState({ models: list.data, status: 'ready', error: undefined })
      } catch (error) {
        const failure = error instanceof Error ? error : new Error(String(error))
        if (active) setState((previous) => ({ ...previous, status: 'error', error: failure }))
      }
      if (active) timer = setTimeout(load, refreshMilliseconds)
    }
    void load()
    return () => {
      active = false
      clearTimeout(timer)
    }
  }, [api, refreshMilliseconds])

  return state
}
