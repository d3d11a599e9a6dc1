import type { ModelInfo, ModelKind } from '../contracts/models.gen.ts'

/**
 * The pool to preselect for a kind: `chat` (or `embed`) when it has live workers, else the
 * first pool that has some, else `chat`/`embed` or the first one listed.
 */
export function defaultModel(models: readonly ModelInfo[], kind: ModelKind): string | null {
  const choices = models.filter((model) => model.kind === kind)
  const preferred = choices.find((model) => model.id === (kind === 'chat' ? 'chat' : 'embed'))
  const live = choices.filter((model) => model.workers > 0)
  return (
    (preferred && preferred.workers > 0 ? preferred.id : undefined) ??
    live[0]?.id ??
    preferred?.id ??
    choices[0]?.id ??
    null
  )
}
