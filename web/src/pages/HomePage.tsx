import { useModels, type UseModelsOptions } from '../hooks/useModels.ts'

export default function HomePage(options: UseModelsOptions) {
  const { models, status, error } = useModels(options)
  return (
    <main>
      <header>
        <h1>Relayline</h1>
        <p className="muted">
          Typed jobs on Redis Streams, model worker pools and resumable event streams.
        </p>
      </header>

      <section aria-labelledby="models-heading">
        <h2 id="models-heading">Models</h2>
        {status === 'loading' && <p className="muted">Loading the models…</p>}
        {error && (
          <p role="alert" className="error">
            Could not load the models: {error.message}
          </p>
        )}
        {models.length > 0 && (
          <table>
            <thead>
              <tr>
                <th scope="col">Model</th>
                <th scope="col">Kind</th>
                <th scope="col">Engine</th>
                <th scope="col" className="number">
                  Live workers
                </th>
                <th scope="col" className="number">
                  Queued
                </th>
              </tr>
            </thead>
            <tbody>
              {models.map((model) => (
                <tr key={model.id} data-testid={`model-${model.id}`}>
                  <th scope="row">{model.id}</th>
                  <td>{model.kind}</td>
                  <td>{model.engine}</td>
                  <td className="number" data-testid={`workers-${model.id}`}>
                    {model.workers}
                  </td>
                  <td className="number">{model.queued}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {status === 'ready' && models.length === 0 && (
          <p className="muted">No model pools are configured.</p>
        )}
      </section>

      <footer>
        <p>
          <a href="/docs">API documentation</a> · <a href="/openapi.json">OpenAPI schema</a>
        </p>
      </footer>
    </main>
  )
}
