import { isEmbeddingsOutput } from '../lib/jobView.ts'
import Markdown from './Markdown.tsx'

const PREVIEW = 6

/** The output: a chat answer as Markdown, embeddings as their shape and first values. */
export default function JobResult({
  output,
  text,
  streaming = false,
}: {
  output: unknown
  text: string
  streaming?: boolean
}) {
  if (isEmbeddingsOutput(output)) {
    const { embeddings, dimensions } = output
    return (
      <div data-testid="job-result">
        <p>
          <strong>{embeddings.length}</strong> embeddings × <strong>{dimensions}</strong> dimensions
        </p>
        <ol className="vectors">
          {embeddings.slice(0, 3).map((vector, index) => (
            <li key={index}>
              <code>
                [
                {vector
                  .slice(0, PREVIEW)
                  .map((value) => value.toFixed(4))
                  .join(', ')}
                {vector.length > PREVIEW ? ', …' : ''}]
              </code>
            </li>
          ))}
        </ol>
        {embeddings.length > 3 && <p className="muted">and {embeddings.length - 3} more</p>}
      </div>
    )
  }
  if (text !== '') {
    return (
      <div data-testid="job-result" className="job-text">
        <Markdown source={text} streaming={streaming} />
      </div>
    )
  }
  if (output === null || output === undefined) return <p className="muted">No result yet.</p>
  return (
    <pre data-testid="job-result" className="json">
      {JSON.stringify(output, null, 2)}
    </pre>
  )
}
