import { useId } from 'react'
import type { ModelInfo, ModelKind } from '../contracts/models.gen.ts'

interface ModelSelectProps {
  label: string
  kind: ModelKind
  models: readonly ModelInfo[]
  value: string | null
  onChange: (model: string) => void
}

/** The pools of one kind; a pool without live workers is marked, as its jobs will wait. */
export default function ModelSelect({ label, kind, models, value, onChange }: ModelSelectProps) {
  const id = useId()
  const choices = models.filter((model) => model.kind === kind)
  return (
    <span className="field inline-field">
      <label htmlFor={id}>{label}</label>
      <select
        id={id}
        value={value ?? ''}
        onChange={(event) => onChange(event.target.value)}
        disabled={choices.length === 0}
      >
        {value === null && <option value="">{choices.length ? 'Choose…' : 'Loading…'}</option>}
        {value !== null && !choices.some((model) => model.id === value) && (
          <option value={value}>{value}</option>
        )}
        {choices.map((model) => (
          <option key={model.id} value={model.id}>
            {model.id}
            {model.workers === 0 ? ' (no live worker)' : ''}
          </option>
        ))}
      </select>
    </span>
  )
}
