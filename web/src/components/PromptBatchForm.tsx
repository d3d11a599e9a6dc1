import { useId, useState, type FormEvent } from 'react'
import type { JobRequest } from '../contracts/jobs.gen.ts'
import type { ModelInfo } from '../contracts/models.gen.ts'
import { linesOf } from '../lib/jobView.ts'
import { defaultModel } from '../lib/models.ts'
import ModelSelect from './ModelSelect.tsx'

interface PromptBatchFormProps {
  models: readonly ModelInfo[]
  onSubmit: (requests: JobRequest[]) => Promise<unknown>
}

/** A batch of prompts: one chat job per line, all submitted together. */
export default function PromptBatchForm({ models, onSubmit }: PromptBatchFormProps) {
  const [chosen, setChosen] = useState<string | null>(null)
  const [prompts, setPrompts] = useState('')
  const [maxTokens, setMaxTokens] = useState('64')
  const [busy, setBusy] = useState(false)
  const id = useId()
  const model = chosen ?? defaultModel(models, 'chat')
  const count = linesOf(prompts).length

  const submit = async (event: FormEvent) => {
    event.preventDefault()
    if (model === null || count === 0) return
    const params = maxTokens === '' ? {} : { max_tokens: Number(maxTokens) }
    // Background work: the pool serves it when no interactive job (a chat) waits.
    const requests: JobRequest[] = linesOf(prompts).map((prompt) => ({
      model,
      input: { messages: [{ role: 'user', content: prompt }] },
      params,
      priority: 'batch',
    }))
    setBusy(true)
    try {
      await onSubmit(requests)
      setPrompts('')
    } catch {
      // The list shows the error.
    } finally {
      setBusy(false)
    }
  }

  return (
    <form className="card job-form" onSubmit={submit} aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Run a batch of prompts</h2>
      <ModelSelect
        label="Chat model"
        kind="chat"
        models={models}
        value={model}
        onChange={setChosen}
      />
      <label htmlFor={id}>Prompts, one per line</label>
      <textarea
        id={id}
        rows={5}
        value={prompts}
        onChange={(event) => setPrompts(event.target.value)}
      />
      <div className="form-actions">
        <span className="field inline-field">
          <label htmlFor={`${id}-tokens`}>Max tokens</label>
          <input
            id={`${id}-tokens`}
            type="number"
            min={1}
            max={4096}
            value={maxTokens}
            onChange={(event) => setMaxTokens(event.target.value)}
          />
        </span>
        <button type="submit" disabled={busy || model === null || count === 0}>
          Run {count > 1 ? `${count} prompts` : 'prompt'}
        </button>
      </div>
    </form>
  )
}
