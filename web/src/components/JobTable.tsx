import type { JobListItem } from '../lib/jobsFeed.ts'
import { formatTime, progressOf, shortId, statusOf } from '../lib/jobView.ts'
import { isTerminal } from '../lib/reducer.ts'
import { jobPath } from '../lib/router.ts'
import JobQueueInfo from './JobQueueInfo.tsx'
import Link from './Link.tsx'
import ProgressBar from './ProgressBar.tsx'

interface JobTableProps {
  jobs: readonly JobListItem[]
  onCancel: (jobId: string) => void
}

/** Every job with its status (a waiting one's place in the queue) and progress; unfinished
 * ones can be cancelled. */
export default function JobTable({ jobs, onCancel }: JobTableProps) {
  return (
    <div className="table-scroll">
      <table className="job-table">
        <thead>
          <tr>
            <th scope="col">Job</th>
            <th scope="col">Model</th>
            <th scope="col">Status</th>
            <th scope="col">Progress</th>
            <th scope="col">Created</th>
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {jobs.map(({ record, live }) => {
            const status = statusOf(record, live)
            return (
              <tr key={record.id} data-testid={`job-row-${record.id}`} data-status={status}>
                <th scope="row">
                  <Link href={jobPath(record.id)} aria-label={`Job ${record.id}`}>
                    <code>{shortId(record.id)}</code>
                  </Link>
                </th>
                <td>{record.model}</td>
                <td>
                  <span className={`status status-${status}`}>{status}</span>
                  <JobQueueInfo record={record} live={live} />
                </td>
                <td>
                  <ProgressBar
                    value={progressOf(record, live)}
                    label={`Progress of job ${shortId(record.id)}`}
                  />
                </td>
                <td>{formatTime(record.created_at)}</td>
                <td>
                  {!isTerminal(status) && (
                    <button
                      type="button"
                      className="secondary small"
                      onClick={() => onCancel(record.id)}
                      aria-label={`Cancel job ${shortId(record.id)}`}
                    >
                      Cancel
                    </button>
                  )}
                </td>
              </tr>
            )
          })}
        </tbody>
      </table>
    </div>
  )
}
