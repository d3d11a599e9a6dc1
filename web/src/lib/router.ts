/**
 * A small client-side router on the History API. The edge answers every unknown path with
 * index.html, so these paths also work on a reload or from a link.
 */
import { Observable } from './observable.ts'

export type Route =
  | { name: 'chat' }
  | { name: 'jobs' }
  | { name: 'job'; jobId: string }
  | { name: 'system' }
  | { name: 'not-found'; path: string }

export function matchRoute(path: string): Route {
  const clean = path.replace(/\/+$/, '') || '/'
  if (clean === '/' || clean === '/chat') return { name: 'chat' }
  if (clean === '/jobs') return { name: 'jobs' }
  if (clean === '/system') return { name: 'system' }
  const job = /^\/jobs\/([^/]+)$/.exec(clean)
  if (job) {
    try {
      return { name: 'job', jobId: decodeURIComponent(job[1]) }
    } catch {
      return { name: 'not-found', path }
    }
  }
  return { name: 'not-found', path }
}

export function jobPath(jobId: string): string {
  return `/jobs/${encodeURIComponent(jobId)}`
}

type HistoryWindow = Pick<Window, 'addEventListener' | 'removeEventListener'> & {
  location: Pick<Location, 'pathname'>
  history: Pick<History, 'pushState' | 'replaceState'>
}

export class Router extends Observable<{ path: string }> {
  private readonly target: HistoryWindow

  constructor(target: HistoryWindow = window) {
    super({ path: target.location.pathname })
    this.target = target
    target.addEventListener('popstate', () => this.publish({ path: target.location.pathname }))
  }

  navigate(path: string, { replace = false } = {}): void {
    if (path === this.snapshot.path && !replace) return
    if (replace) this.target.history.replaceState(null, '', path)
    else this.target.history.pushState(null, '', path)
    this.publish({ path: this.target.location.pathname })
  }
}
