import { useId, useState, type FormEvent } from 'react'
import type { JobRequest } from '../contracts/jobs.gen.ts'
import type { ModelInfo } from '../contracts/models.gen.ts'
import { linesOf } from '../lib/jobView.ts'
import { defaultModel } from '../lib/models.ts'
import ModelSelect from './ModelSelect.tsx'

interface EmbeddingsFormProps {
  models: readonly ModelInfo[]
  onSubmit: (requests: JobRequest[]) => Promise<unknown>
}

/** Many texts, one embeddings job: its progress events fill the bar. */
export default function EmbeddingsForm({ models, onSubmit }: EmbeddingsFormProps) {
  const [chosen, setChosen] = useState<string | null>(null)
  const [texts, setTexts] = useState('')
  const [busy, setBusy] = useState(false)
  const id = useId()
  const model = chosen ?? defaultModel(models, 'embeddings')
  const count = linesOf(texts).length

  const submit = async (event: FormEvent) => {
    event.preventDefault()
    if (model === null || count === 0) return
    setBusy(true)
    try {
      // Background work: the pool serves it when no interactive job waits.
      await onSubmit([{ model, input: { texts: linesOf(texts) }, priority: 'batch' }])
      setTexts('')
    } catch {
      // The list shows the error.
    } finally {
      setBusy(false)
    }
  }

  return (
    <form className="card job-form" onSubmit={submit} aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Embed texts</h2>
      <ModelSelect
        label="Embeddings model"
        kind="embeddings"
        models={models}
        value={model}
        onChange={setChosen}
      />
      <label htmlFor={id}>Texts, one per line</label>
      <textarea id={id} rows={5} value={texts} onChange={(event) => setTexts(event.target.value)} />
      <div className="form-actions">
        <span className="muted">
          {count} text{count === 1 ? '' : 's'}
        </span>
        <button type="submit" disabled={busy || model === null || count === 0}>
          Embed texts
        </button>
      </div>
    </form>
  )
}
