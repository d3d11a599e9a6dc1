import { useSyncExternalStore } from 'react'
import { matchRoute, Router, type Route } from '../lib/router.ts'

let router: Router | undefined

export function appRouter(): Router {
  router ??= new Router()
  return router
}

export function navigate(path: string): void {
  appRouter().navigate(path)
}

/** The route of the current URL; changes on links, navigate() and back/forward. */
export function useRoute(): Route {
  const current = appRouter()
  const { path } = useSyncExternalStore(current.subscribe, current.getSnapshot)
  return matchRoute(path)
}
