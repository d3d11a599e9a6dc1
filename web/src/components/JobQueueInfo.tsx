import type { JobRecord } from '../contracts/jobs.gen.ts'
import { positionLabel, positionOf } from '../lib/jobView.ts'
import type { JobState } from '../lib/reducer.ts'

interface JobQueueInfoProps {
  record: JobRecord | undefined
  live: JobState | undefined
}

/** Beside a job's status: its place in its pool's queue while it waits, and batch work marked
 * as such (it waits while interactive jobs do). */
export default function JobQueueInfo({ record, live }: JobQueueInfoProps) {
  const position = positionOf(record, live)
  return (
    <>
      {position !== null && (
        <span className="queue-position" data-testid="queue-position">
          {` · ${positionLabel(position)}`}
        </span>
      )}
      {record?.priority === 'batch' && (
        <>
          {' '}
          <span className="priority" title="Batch work: it waits while interactive jobs do">
            batch
          </span>
        </>
      )}
    </>
  )
}
