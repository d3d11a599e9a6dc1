/** An in-memory edge API for tests: jobs are records the test updates by hand. */
import { vi } from 'vitest'
import type { JobRecord, JobRequest, PoolQueue } from '../../contracts/jobs.gen.ts'
import type { ModelInfo } from '../../contracts/models.gen.ts'
import { ApiError, type Api, type ListJobsOptions } from '../api.ts'

export function model(id: string, kind: ModelInfo['kind'] = 'chat', workers = 1): ModelInfo {
  const engine = kind === 'chat' ? 'simulated' : 'embeddings'
  return {
    id,
    object: 'model',
    created: 0,
    owned_by: 'relayline',
    kind,
    engine,
    workers,
    queued: 0,
    done: 0,
  }
}

export function record(id: string, change: Partial<JobRecord> = {}): JobRecord {
  return {
    id,
    model: 'sim',
    status: 'queued',
    priority: 'interactive',
    position: null,
    attempt: 0,
    created_at: 1_700_000_000,
    started_at: null,
    finished_at: null,
    worker: null,
    last_seq: 1,
    output: null,
    usage: null,
    error: null,
    ...change,
  }
}

export function createFakeApi(models: ModelInfo[] = [model('sim')]) {
  const jobs = new Map<string, JobRecord>()
  const requests: JobRequest[] = []
  const byKey = new Map<string, string>()
  /** What `getQueue` answers; tests replace its contents, or mock a 403. */
  const queue: PoolQueue[] = []
  let next = 1
  const find = (jobId: string) => {
    const found = jobs.get(jobId)
    if (!found) throw new ApiError(404, 'job_not_found', `no job ${jobId}`)
    return found
  }
  const api = {
    listModels: vi.fn(async () => ({ object: 'list' as const, data: models })),
    listJobs: vi.fn(async ({ limit = 20, cursor }: ListJobsOptions = {}) => {
      // Newest first; the cursor is the index where the next page starts.
      const all = [...jobs.values()].reverse()
      const start = cursor === undefined ? 0 : Number(cursor)
      const end = start + limit
      return { data: all.slice(start, end), next_cursor: end < all.length ? String(end) : null }
    }),
    getJob: vi.fn(async (jobId: string) => find(jobId)),
    submitJob: vi.fn(async (request: JobRequest) => {
      requests.push(request)
      const known = request.idempotency_key ? byKey.get(request.idempotency_key) : undefined
      if (known) return { id: known, status: find(known).status }
      const id = `job-${next++}`
      jobs.set(
        id,
        record(id, { model: request.model, priority: request.priority ?? 'interactive' }),
      )
      if (request.idempotency_key) byKey.set(request.idempotency_key, id)
      return { id, status: 'queued' as const }
    }),
    cancelJob: vi.fn(async (jobId: string) => {
      const found = find(jobId)
      jobs.set(jobId, { ...found, status: 'cancelled' })
      return find(jobId)
    }),
    getQueue: vi.fn(async () => ({ data: queue })),
    createTicket: vi.fn(async (purpose: 'ws' | 'events') => ({
      ticket: `ticket-${next++}`,
      purpose,
      expires_at: Date.now() / 1000 + 60,
    })),
  } satisfies Api
  return { api, jobs, requests, queue }
}
