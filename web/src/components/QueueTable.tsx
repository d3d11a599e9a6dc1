import type { PoolQueue, UserQueue } from '../contracts/jobs.gen.ts'

/** Users listed per pool, most waiting jobs first; the rest (with those the server left out
 * of its report, `other_users`) are summed in one row. */
export const USERS_SHOWN = 20

const waitingOf = (user: UserQueue) => user.interactive + user.batch

function PoolRows({ pool }: { pool: PoolQueue }) {
  const users = [...pool.users].sort((left, right) => waitingOf(right) - waitingOf(left))
  const shown = users.slice(0, USERS_SHOWN)
  const rest = users.length - shown.length + pool.other_users
  const sum = (key: 'interactive' | 'batch') =>
    pool[key] - shown.reduce((total, user) => total + user[key], 0)
  return (
    <tbody data-testid={`queue-${pool.pool}`}>
      {shown.map((user, index) => (
        <tr key={user.user} data-testid={`queue-${pool.pool}-${user.user}`}>
          {index === 0 && (
            <th scope="rowgroup" rowSpan={shown.length + (rest > 0 ? 1 : 0)}>
              {pool.pool}
              <span className="queue-total">
                {pool.interactive} interactive, {pool.batch} batch
              </span>
            </th>
          )}
          <th scope="row">
            <code>{user.user}</code>
          </th>
          <td className="number">{user.interactive}</td>
          <td className="number">{user.batch}</td>
        </tr>
      ))}
      {rest > 0 && (
        <tr data-testid={`queue-${pool.pool}-rest`}>
          <th scope="row" className="muted">
            {rest} more user{rest === 1 ? '' : 's'}
          </th>
          <td className="number">{sum('interactive')}</td>
          <td className="number">{sum('batch')}</td>
        </tr>
      )}
    </tbody>
  )
}

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
          <PoolRows key={pool.pool} pool={pool} />
        ))}
      </table>
    </div>
  )
}
