import Link from '../components/Link.tsx'

export default function NotFoundPage({ path }: { path: string }) {
  return (
    <div className="page">
      <h1>Page not found</h1>
      <p>
        Nothing lives at <code>{path}</code>. Try the <Link href="/chat">chat</Link> or your{' '}
        <Link href="/jobs">jobs</Link>.
      </p>
    </div>
  )
}
