/**
 * Typed HTTP calls to the edge. Only the generated contract types cross this boundary, so a
 * change to the Python models shows up here as a type error.
 *
 * The browser authenticates with the guest cookie the edge sets (guest mode), hence
 * `credentials: 'same-origin'`; a UI for an edge without guests passes `apiKey`, sent as
 * `Authorization: Bearer`. Keys never go in URLs: the WebSocket uses a ticket
 * (`createTicket`, see `ticketSocketUrl` in socket.ts).
 */
import type { ErrorBody } from '../contracts/errors.gen.ts'
import type {
  JobAccepted,
  JobList,
  JobRecord,
  JobRequest,
  QueueReport,
} from '../contracts/jobs.gen.ts'
import type { ModelList } from '../contracts/models.gen.ts'
import type { Ticket, TicketPurpose } from '../contracts/tickets.gen.ts'

/** Codes the client makes up when the edge sent no `{"error": ...}` body of its own. */
export type ClientErrorCode = 'network_error' | 'unexpected_response'

/** A failed call: the edge's `{code, message}` (`code` is an `ErrorCode` then) and status. */
export class ApiError extends Error {
  readonly status: number
  readonly code: string

  constructor(status: number, code: string, message: string) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
  }
}

export interface ApiOptions {
  /** Prefix of every path; empty for the edge that served the page. */
  baseUrl?: string
  fetch?: typeof fetch
  /** A key from EDGE_API_KEYS; without it, the guest cookie identifies the browser. */
  apiKey?: string
}

export interface ListJobsOptions {
  limit?: number
  /** `next_cursor` of the previous page. */
  cursor?: string
}

function isErrorBody(body: unknown): body is ErrorBody {
  if (typeof body !== 'object' || body === null || !('error' in body)) return false
  const error = body.error
  return (
    typeof error === 'object' &&
    error !== null &&
    'code' in error &&
    typeof error.code === 'string' &&
    'message' in error &&
    typeof error.message === 'string'
  )
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

export function createApi(options: ApiOptions = {}) {
  const baseUrl = options.baseUrl ?? ''
  // Looked up per call, not captured, so tests that stub the global fetch are honoured.
  const fetchFunction = options.fetch ?? ((input, init) => globalThis.fetch(input, init))

  async function request<T>(path: string, init: RequestInit = {}): Promise<T> {
    const headers = new Headers(init.headers)
    headers.set('Accept', 'application/json')
    if (options.apiKey) headers.set('Authorization', `Bearer ${options.apiKey}`)
    let response: Response
    try {
      response = await fetchFunction(`${baseUrl}${path}`, {
        ...init,
        headers,
        credentials: 'same-origin',
      })
    } catch (cause) {
      throw new ApiError(0, 'network_error', `the server could not be reached (${String(cause)})`)
    }
    const body = parseJson(await response.text())
    if (!response.ok) {
      if (isErrorBody(body)) {
        throw new ApiError(response.status, body.error.code, body.error.message)
      }
      const reason = `${response.status} ${response.statusText}`.trim()
      throw new ApiError(response.status, 'unexpected_response', `the server answered ${reason}`)
    }
    if (body === undefined) {
      throw new ApiError(response.status, 'unexpected_response', 'the server did not answer JSON')
    }
    return body as T
  }

  return {
    listModels: () => request<ModelList>('/v1/models'),
    listJobs: ({ limit, cursor }: ListJobsOptions = {}) => {
      const query = new URLSearchParams()
      if (limit !== undefined) query.set('limit', String(limit))
      if (cursor !== undefined) query.set('cursor', cursor)
      const search = query.toString()
      return request<JobList>(search ? `/v1/jobs?${search}` : '/v1/jobs')
    },
    getJob: (jobId: string) => request<JobRecord>(`/v1/jobs/${encodeURIComponent(jobId)}`),
    submitJob: (job: JobRequest) =>
      request<JobAccepted>('/v1/jobs', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(job),
      }),
    cancelJob: (jobId: string) =>
      request<JobRecord>(`/v1/jobs/${encodeURIComponent(jobId)}/cancel`, { method: 'POST' }),
    /** Every pool's waiting jobs by user: operators only, anyone else gets 403 `forbidden`. */
    getQueue: () => request<QueueReport>('/v1/queue'),
    /** A one-time ticket for `?ticket=` on the WebSocket (`ws`) or a job's SSE (`events`). */
    createTicket: (purpose: TicketPurpose) =>
      request<Ticket>('/v1/tickets', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ purpose }),
      }),
  }
}

export type Api = ReturnType<typeof createApi>

/** The edge that served this page. */
export const api: Api = createApi()
