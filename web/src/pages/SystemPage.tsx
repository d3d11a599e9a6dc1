import Link from '../components/Link.tsx'
import QueueTable from '../components/QueueTable.tsx'
import ThroughputChart from '../components/ThroughputChart.tsx'
import { useRelay } from '../hooks/useRelay.ts'
import { useSystem } from '../hooks/useSystem.ts'
import { recentThroughput } from '../lib/throughput.ts'

const rate = (value: number) => value.toFixed(value >= 10 ? 0 : 1)

/** The pools, their live workers and queues, recent throughput and a live chart; for an
 * operator, every pool's waiting jobs by user. */
export default function SystemPage() {
  const { models, samples, status, error, queue, queueStatus, queueError } = useSystem({
    queue: true,
  })
  const connection = useRelay()
  const workers = models.reduce((total, model) => total + model.workers, 0)
  const queued = models.reduce((total, model) => total + model.queued, 0)
  return (
    <div className="page">
      <h1>System</h1>
      <p className="muted">
        Typed jobs on Redis Streams, model worker pools and resumable event streams.
      </p>
      {error && (
        <p role="alert" className="error">
          Could not load the models: {error.message}
        </p>
      )}
      <dl className="stats">
        <div>
          <dt>Live workers</dt>
          <dd data-testid="total-workers">{workers}</dd>
        </div>
        <div>
          <dt>Queued jobs</dt>
          <dd data-testid="total-queued">{queued}</dd>
        </div>
        <div>
          <dt>Throughput (10 s)</dt>
          <dd>{rate(recentThroughput(samples))} jobs/s</dd>
        </div>
        <div>
          <dt>This tab's stream</dt>
          <dd>{connection.state}</dd>
        </div>
      </dl>
      <ThroughputChart samples={samples} />
      <section aria-labelledby="pools-heading">
        <h2 id="pools-heading">Pools</h2>
        {status === 'loading' && <p className="muted">Loading the models…</p>}
        {models.length > 0 && (
          <div className="table-scroll">
            <table>
              <thead>
                <tr>
                  <th scope="col">Pool</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Engine</th>
                  <th scope="col" className="number">
                    Live workers
                  </th>
                  <th scope="col" className="number">
                    Queued
                  </th>
                  <th scope="col" className="number">
                    Jobs/s
                  </th>
                  <th scope="col" className="number">
                    Done
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
                    <td className="number" data-testid={`rate-${model.id}`}>
                      {rate(recentThroughput(samples, model.id))}
                    </td>
                    <td className="number" data-testid={`done-${model.id}`}>
                      {model.done}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {status === 'ready' && models.length === 0 && (
          <p className="muted">No model pools are configured.</p>
        )}
      </section>
      {(queueStatus === 'ready' || queueStatus === 'error') && (
        <section aria-labelledby="queue-heading">
          <h2 id="queue-heading">Waiting jobs by user</h2>
          {queueError && (
            <p role="alert" className="error">
              Could not load the queue: {queueError.message}
            </p>
          )}
          {(queueStatus === 'ready' || queue.length > 0) && <QueueTable pools={queue} />}
        </section>
      )}
      <footer className="page-footer">
        <a href="/docs">API documentation</a> · <a href="/openapi.json">OpenAPI schema</a> ·{' '}
        <Link href="/jobs">Your jobs</Link>
      </footer>
    </div>
  )
}
