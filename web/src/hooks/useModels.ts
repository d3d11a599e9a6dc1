import type { ModelInfo } from '../contracts/models.gen.ts'
import { useSystem } from './useSystem.ts'

export type ModelsStatus = 'loading' | 'ready' | 'error'

export interface ModelsState {
  models: ModelInfo[]
  status: ModelsStatus
  error: Error | undefined
}

/**
 * The edge's models, from the tab's one SystemMonitor: polled while any page shows them, and
 * kept across pages and conversations; a failed refresh keeps the last list.
 */
export function useModels(): ModelsState {
  const { models, status, error } = useSystem()
  return { models, status, error }
}
