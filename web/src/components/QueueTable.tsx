import type { PoolQueue } from '../contracts/jobs.gen.ts'

/** Every pool's waiting jobs by user (interactive and batch), one group of rows per pool. */
export default function QueueTable({ pools }: { pools: readonly PoolQueue[] }) {
  const waiting = pools.filter((pool) => pool.users.length > 0)
  if (waiting.length === 0) return <p className="muted">No job is waiting.</p>
  return (
    <div className="table-scroll">
      <table className="queue-table">
        <thead>
          <tr>
            <th scope="col">Pool</th>
            <th scope="col">User</th>
            <th scope="col" className="number">
              Interactive
            </th>
            <th scope="col" className="number">
              Batch
            </th>
          </tr>
        </thead>
        {waiting.map((pool) => (
          <tbody key={pool.pool} data-testid={`queue-${pool.pool}`}>
            {pool.users.map((user, index) => (
              <tr key={user.user} data-testid={`queue-${pool.pool}-${user.user}`}>
                {index === 0 && (
                  <th scope="rowgroup" rowSpan={pool.users.length}>
                    {pool.pool}
                  </th>
                )}
                <th scope="row">
                  <code>{user.user}</code>
                </th>
                <td className="number">{user.interactive}</td>
                <td className="number">{user.batch}</td>
              </tr>
            ))}
          </tbody>
        ))}
      </table>
    </div>
  )
}
