import JobEventLog from '../components/JobEventLog.tsx'
import JobQueueInfo from '../components/JobQueueInfo.tsx'
import JobResult from '../components/JobResult.tsx'
import Link from '../components/Link.tsx'
import ProgressBar from '../components/ProgressBar.tsx'
import { useJob } from '../hooks/useJob.ts'
import { formatTime, outputOf, progressOf, statusOf, textOf } from '../lib/jobView.ts'
import { isTerminal } from '../lib/reducer.ts'

/** One job: its record, live progress and events, its result; cancel while it runs. */
export default function JobPage({ jobId }: { jobId: string }) {
  const { job, record, error, cancel } = useJob(jobId)
  if (error?.code === 'job_not_found') {
    return (
      <div className="page">
        <h1>Job not found</h1>
        <p>
          There is no job <code>{jobId}</code> among yours. Jobs are visible only to the user who
          submitted them.
        </p>
        <p>
          <Link href="/jobs">Back to your jobs</Link>
        </p>
      </div>
    )
  }
  const status = statusOf(record, job)
  const ended = isTerminal(status)
  const failure =
    job?.error ?? (record?.error ? { message: Object.values(record.error).join(': ') } : null)
  return (
    <div className="page" data-testid="job-page" data-status={status}>
      <p className="breadcrumb">
        <Link href="/jobs">Jobs</Link> /
      </p>
      <h1>
        Job <code>{jobId}</code>
      </h1>
      {error && (
        <p role="alert" className="error">
          {error.message}
        </p>
      )}
      {job?.recovery === 'lost' && (
        <p role="alert" className="banner error">
          This job's stream could not be recovered: its event log has expired.
        </p>
      )}
      <dl className="facts">
        <dt>Status</dt>
        <dd>
          <span className={`status status-${status}`} data-testid="job-status">
            {status}
          </span>
          <JobQueueInfo record={record} live={job} />
        </dd>
        <dt>Model</dt>
        <dd>{record?.model ?? '…'}</dd>
        <dt>Attempt</dt>
        <dd>{job?.attempt || record?.attempt || '—'}</dd>
        <dt>Worker</dt>
        <dd>{job?.worker ?? record?.worker ?? '—'}</dd>
        <dt>Created</dt>
        <dd>{formatTime(record?.created_at)}</dd>
        <dt>Finished</dt>
        <dd>{formatTime(record?.finished_at)}</dd>
      </dl>
      <div className="job-progress">
        <ProgressBar value={progressOf(record, job)} label="Progress" />
        {!ended && (
          <button type="button" className="danger" onClick={() => void cancel()}>
            Cancel job
          </button>
        )}
      </div>
      {failure && status === 'failed' && (
        <p role="alert" className="error">
          {failure.message}
        </p>
      )}
      <section aria-labelledby="result-heading">
        <h2 id="result-heading">Result</h2>
        <JobResult output={outputOf(record, job)} text={textOf(record, job)} streaming={!ended} />
      </section>
      <section aria-labelledby="events-heading">
        <h2 id="events-heading">Live events</h2>
        <JobEventLog events={job?.events ?? []} />
      </section>
    </div>
  )
}
