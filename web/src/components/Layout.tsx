import { useEffect, useRef, type ReactNode } from 'react'
import type { Route } from '../lib/router.ts'
import ConnectionBadge from './ConnectionBadge.tsx'
import Link from './Link.tsx'

const SECTIONS = [
  { href: '/chat', label: 'Chat', routes: ['chat'] },
  { href: '/jobs', label: 'Jobs', routes: ['jobs', 'job'] },
  { href: '/system', label: 'System', routes: ['system'] },
]

/** The app's frame: skip link, navigation, connection state; focus moves to a new page. */
export default function Layout({ route, children }: { route: Route; children: ReactNode }) {
  const main = useRef<HTMLElement>(null)
  const first = useRef(true)
  const key = route.name === 'job' ? `job:${route.jobId}` : route.name
  useEffect(() => {
    if (first.current) {
      first.current = false
      return
    }
    // After a client-side navigation, a screen reader starts at the new page's heading.
    const heading = main.current?.querySelector<HTMLElement>('h1')
    heading?.setAttribute('tabindex', '-1')
    heading?.focus()
  }, [key])
  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="top-bar">
        <Link href="/chat" className="brand">
          Relayline
        </Link>
        <nav aria-label="Main">
          <ul>
            {SECTIONS.map((section) => (
              <li key={section.href}>
                <Link
                  href={section.href}
                  aria-current={section.routes.includes(route.name) ? 'page' : undefined}
                >
                  {section.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <ConnectionBadge />
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        {children}
      </main>
    </div>
  )
}
