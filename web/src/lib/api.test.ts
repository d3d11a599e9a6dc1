import { describe, expect, it, vi } from 'vitest'
import type { ModelList } from '../contracts/models.gen.ts'
import { ApiError, createApi } from './api.ts'

function answer(status: number, body: string, statusText = ''): Response {
  return new Response(body, { status, statusText, headers: { 'Content-Type': 'application/json' } })
}

function apiAnswering(response: Response | Error) {
  const fetch = vi.fn<typeof globalThis.fetch>(async () => {
    if (response instanceof Error) throw response
    return response
  })
  return { api: createApi({ fetch }), fetch }
}

async function failure(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  )
  expect(error).toBeInstanceOf(ApiError)
  return error as ApiError
}

describe('createApi', () => {
  it('returns the parsed model list and sends the guest cookie', async () => {
    const list: ModelList = {
      object: 'list',
      data: [
        {
          id: 'sim',
          object: 'model',
          created: 0,
          owned_by: 'relayline',
          kind: 'chat',
          engine: 'simulated',
          workers: 1,
          queued: 0,
          done: 0,
        },
      ],
    }
    const { api, fetch } = apiAnswering(answer(200, JSON.stringify(list)))

    await expect(api.listModels()).resolves.toEqual(list)

    const [url, init] = fetch.mock.calls[0]
    expect(url).toBe('/v1/models')
    expect(init?.credentials).toBe('same-origin')
  })

  it('turns an {"error": {code, message}} body into an ApiError', async () => {
    const body = { error: { code: 'job_not_found', message: 'no job abc' } }
    const { api } = apiAnswering(answer(404, JSON.stringify(body), 'Not Found'))

    const error = await failure(api.getJob('abc'))

    expect(error.status).toBe(404)
    expect(error.code).toBe('job_not_found')
    expect(error.message).toBe('no job abc')
  })

  it('reports an error status without an error body as unexpected_response', async () => {
    const { api } = apiAnswering(answer(502, '<html>Bad Gateway</html>', 'Bad Gateway'))

    const error = await failure(api.listModels())

    expect(error.status).toBe(502)
    expect(error.code).toBe('unexpected_response')
    expect(error.message).toContain('502 Bad Gateway')
  })

  it('reports a success that is not JSON as unexpected_response', async () => {
    const { api } = apiAnswering(answer(200, '<!doctype html>'))

    const error = await failure(api.listJobs())

    expect(error.code).toBe('unexpected_response')
  })

  it('reports an unreachable server as network_error', async () => {
    const { api } = apiAnswering(new TypeError('Failed to fetch'))

    const error = await failure(api.listModels())

    expect(error.status).toBe(0)
    expect(error.code).toBe('network_error')
  })

  it('posts a job request as JSON', async () => {
    const { api, fetch } = apiAnswering(answer(202, '{"id": "j1", "status": "queued"}'))

    await expect(
      api.submitJob({ model: 'sim', input: { messages: [{ role: 'user', content: 'hi' }] } }),
    ).resolves.toEqual({ id: 'j1', status: 'queued' })

    const [url, init] = fetch.mock.calls[0]
    expect(url).toBe('/v1/jobs')
    expect(init?.method).toBe('POST')
    expect(new Headers(init?.headers).get('Content-Type')).toBe('application/json')
    expect(JSON.parse(String(init?.body))).toEqual({
      model: 'sim',
      input: { messages: [{ role: 'user', content: 'hi' }] },
    })
  })

  it('passes the list paging options as query parameters', async () => {
    const { api, fetch } = apiAnswering(answer(200, '{"data": [], "next_cursor": null}'))

    await api.listJobs({ limit: 5, cursor: '1700000000.5' })

    expect(fetch.mock.calls[0][0]).toBe('/v1/jobs?limit=5&cursor=1700000000.5')
  })
  it('asks for a ticket with a POST, the key in a header and never in the URL', async () => {
    const ticket = { ticket: 'T'.repeat(43), purpose: 'ws', expires_at: 1_800_000_000 }
    const fetch = vi.fn<typeof globalThis.fetch>(async () => answer(201, JSON.stringify(ticket)))
    const api = createApi({ fetch, apiKey: 'secret-key', baseUrl: 'http://edge.test' })

    expect(await api.createTicket('ws')).toEqual(ticket)
    const [url, init] = fetch.mock.calls[0]
    expect(url).toBe('http://edge.test/v1/tickets')
    expect(init?.method).toBe('POST')
    expect(init?.body).toBe('{"purpose":"ws"}')
    expect(new Headers(init?.headers).get('Authorization')).toBe('Bearer secret-key')
    expect(String(url)).not.toContain('secret-key')
  })

  it('sends no Authorization header without a key: the guest cookie is the identity', async () => {
    const { api, fetch } = apiAnswering(answer(200, '{"object":"list","data":[]}'))
    await api.listModels()
    expect(new Headers(fetch.mock.calls[0][1]?.headers).has('Authorization')).toBe(false)
  })
  it("reads the queue by user, and a non-operator's 403 as an ApiError", async () => {
    const report = { data: [{ pool: 'sim', interactive: 1, batch: 0, users: [], other_users: 0 }] }
    const allowed = apiAnswering(answer(200, JSON.stringify(report)))
    await expect(allowed.api.getQueue()).resolves.toEqual(report)
    expect(allowed.fetch.mock.calls[0][0]).toBe('/v1/queue')

    const body = { error: { code: 'forbidden', message: 'operators only' } }
    const refused = apiAnswering(answer(403, JSON.stringify(body), 'Forbidden'))
    const error = await failure(refused.api.getQueue())
    expect([error.status, error.code, error.message]).toEqual([403, 'forbidden', 'operators only'])
  })
})
