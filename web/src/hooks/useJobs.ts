import { useEffect, useSyncExternalStore } from 'react'
import type { JobRequest } from '../contracts/jobs.gen.ts'
import type { JobListItem } from '../lib/jobsFeed.ts'
import { useRelayServices } from './relayContext.ts'

export interface UseJobsResult {
  jobs: JobListItem[]
  status: 'loading' | 'ready' | 'error'
  error: Error | undefined
  /** Whether older jobs than those listed exist: `loadOlder` fetches the next page. */
  hasOlder: boolean
  loadOlder: () => Promise<void>
  /** Submits every request (a batch of prompts: one job each); resolves to their ids. */
  submit: (requests: JobRequest[]) => Promise<string[]>
  cancel: (jobId: string) => Promise<void>
  refresh: () => Promise<void>
}

/** Every job of the user, newest first, the unfinished ones followed live. */
export function useJobs(): UseJobsResult {
  const { jobs: feed } = useRelayServices()
  useEffect(() => {
    feed.start()
    return () => feed.stop()
  }, [feed])
  const { jobs, status, error, hasOlder } = useSyncExternalStore(feed.subscribe, feed.getSnapshot)
  return {
    jobs,
    status,
    error,
    hasOlder,
    loadOlder: () => feed.loadOlder(),
    submit: (requests) => feed.submit(requests),
    cancel: (jobId) => feed.cancel(jobId),
    refresh: () => feed.refresh(),
  }
}
