import { useState } from 'react'
import EmbeddingsForm from '../components/EmbeddingsForm.tsx'
import JobTable from '../components/JobTable.tsx'
import Link from '../components/Link.tsx'
import PromptBatchForm from '../components/PromptBatchForm.tsx'
import type { JobRequest } from '../contracts/jobs.gen.ts'
import { useJobs } from '../hooks/useJobs.ts'
import { useModels } from '../hooks/useModels.ts'
import { shortId } from '../lib/jobView.ts'
import { jobPath } from '../lib/router.ts'

/** Background work: submit it, watch every job's progress, cancel. */
export default function JobsPage() {
  const { models } = useModels()
  const { jobs, status, error, hasOlder, loadOlder, submit, cancel } = useJobs()
  const [submitted, setSubmitted] = useState<string[]>([])

  const onSubmit = async (requests: JobRequest[]) => {
    const ids = await submit(requests)
    setSubmitted(ids)
  }

  return (
    <div className="page">
      <h1>Jobs</h1>
      <div className="job-forms">
        <EmbeddingsForm models={models} onSubmit={onSubmit} />
        <PromptBatchForm models={models} onSubmit={onSubmit} />
      </div>
      {submitted.length > 0 && (
        <p role="status" className="notice">
          Submitted {submitted.length === 1 ? 'job ' : `${submitted.length} jobs: `}
          {submitted.map((id, index) => (
            <span key={id}>
              {index > 0 && ', '}
              <Link href={jobPath(id)}>
                <code>{shortId(id)}</code>
              </Link>
            </span>
          ))}
        </p>
      )}
      <section aria-labelledby="your-jobs">
        <h2 id="your-jobs">Your jobs</h2>
        {error && (
          <p role="alert" className="error">
            {error.message}
          </p>
        )}
        {status === 'loading' && <p className="muted">Loading your jobs…</p>}
        {status !== 'loading' && jobs.length === 0 && (
          <p className="muted">No jobs yet. Submit one above, or chat.</p>
        )}
        {jobs.length > 0 && <JobTable jobs={jobs} onCancel={(id) => void cancel(id)} />}
        {hasOlder && (
          <button type="button" className="secondary" onClick={() => void loadOlder()}>
            Show older jobs
          </button>
        )}
      </section>
    </div>
  )
}
