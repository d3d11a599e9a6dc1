/** A labelled progress bar; `value` null means "working, amount unknown". */
export default function ProgressBar({ value, label }: { value: number | null; label: string }) {
  const percent = value === null ? null : Math.round(Math.min(1, Math.max(0, value)) * 100)
  return (
    <span className="progress">
      {percent === null ? (
        <progress aria-label={label} />
      ) : (
        <progress aria-label={label} max={100} value={percent} />
      )}
      <span className="progress-text" aria-hidden="true">
        {percent === null ? '…' : `${percent}%`}
      </span>
    </span>
  )
}
