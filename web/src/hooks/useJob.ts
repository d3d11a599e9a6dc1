import { useCallback, useEffect, useState, useSyncExternalStore } from 'react'
import type { JobRecord } from '../contracts/jobs.gen.ts'
import { ApiError } from '../lib/api.ts'
import { QUEUED_REFRESH_MILLISECONDS, statusOf as jobStatusOf } from '../lib/jobView.ts'
import { isTerminal, type JobState } from '../lib/reducer.ts'
import type { RelayClient } from '../lib/relayClient.ts'
import { useRelayServices } from './relayContext.ts'

export type JobHookStatus = 'idle' | 'submitted' | 'streaming' | 'ready' | 'error'

export interface UseJobResult {
  /** The live state from the event stream: text, progress, recent events, output. */
  job: JobState | undefined
  /** The record from `GET /v1/jobs/{id}`: model, timestamps, final output. */
  record: JobRecord | undefined
  status: JobHookStatus
  /** `code` 'job_not_found' for a job that does not exist or is not the user's. */
  error: ApiError | undefined
  cancel: () => Promise<void>
  clearError: () => void
}

const NOT_FOUND = new ApiError(404, 'job_not_found', 'Job not found')

function statusOf(job: JobState | undefined, error: ApiError | undefined): JobHookStatus {
  if (error) return 'error'
  if (!job) return 'idle'
  if (job.recovery !== 'live' || job.status === 'failed') return 'error'
  if (job.status === 'running') return 'streaming'
  return isTerminal(job.status) ? 'ready' : 'submitted'
}

/** While `waiting`, reads the record again every few seconds: its place in the queue moves.
 * A failed read keeps the last record (the stream still tells the status). */
function useWaitingRecord(
  client: RelayClient,
  jobId: string,
  waiting: boolean,
  setRecord: (record: JobRecord) => void,
) {
  useEffect(() => {
    if (!waiting) return
    let active = true
    let timer: ReturnType<typeof setTimeout> | undefined
    const schedule = () => {
      timer = setTimeout(async () => {
        try {
          const found = await client.api.getJob(jobId)
          if (active) setRecord(found)
        } catch {
          // Asked again at the next tick.
        }
        if (active) schedule()
      }, QUEUED_REFRESH_MILLISECONDS)
    }
    schedule()
    return () => {
      active = false
      clearTimeout(timer)
    }
  }, [client, jobId, waiting, setRecord])
}

/** One job, followed live from its first event; its record is read again while it waits (for
 * its place in the queue) and when it ends. */
export function useJob(jobId: string): UseJobResult {
  const { client } = useRelayServices()
  const subscribe = useCallback(
    (listener: () => void) => client.subscribeJob(jobId, listener),
    [client, jobId],
  )
  const job = useSyncExternalStore(subscribe, () => client.getJob(jobId))
  const [record, setRecord] = useState<JobRecord>()
  const [error, setError] = useState<ApiError>()
  const ended = job !== undefined && isTerminal(job.status)

  useEffect(() => client.watchJob(jobId), [client, jobId])
  useEffect(() => {
    let active = true
    client.api.getJob(jobId).then(
      (found) => active && setRecord(found),
      (failure: unknown) => {
        if (!active) return
        const known = failure instanceof ApiError
        setError(known ? failure : new ApiError(0, 'network_error', String(failure)))
      },
    )
    return () => {
      active = false
    }
  }, [client, jobId, ended])

  useWaitingRecord(client, jobId, jobStatusOf(record, job) === 'queued' && !error, setRecord)

  const cancel = useCallback(async () => {
    try {
      await client.cancel(jobId)
    } catch (failure) {
      if (failure instanceof ApiError) setError(failure)
    }
  }, [client, jobId])
  const visibleError = job?.recovery === 'not-found' ? NOT_FOUND : error
  return {
    job,
    record,
    status: statusOf(job, visibleError),
    error: visibleError,
    cancel,
    clearError: () => setError(undefined),
  }
}
