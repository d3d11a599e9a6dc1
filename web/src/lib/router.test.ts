import { describe, expect, it } from 'vitest'
import { jobPath, matchRoute } from './router.ts'

describe('matchRoute', () => {
  it.each([
    ['/', { name: 'chat' }],
    ['/chat', { name: 'chat' }],
    ['/jobs/', { name: 'jobs' }],
    ['/system', { name: 'system' }],
    ['/jobs/abc123', { name: 'job', jobId: 'abc123' }],
    ['/jobs/a%2Fb', { name: 'job', jobId: 'a/b' }],
    ['/elsewhere', { name: 'not-found', path: '/elsewhere' }],
  ])('%s', (path, route) => {
    expect(matchRoute(path)).toEqual(route)
  })

  it('round-trips a job id through its path', () => {
    expect(matchRoute(jobPath('x y/z'))).toEqual({ name: 'job', jobId: 'x y/z' })
  })
})
