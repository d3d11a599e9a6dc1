import { lazy, memo, Suspense } from 'react'

export type MarkdownProps = { source: string; streaming?: boolean }

/**
 * The renderer (react-markdown, remark-gfm, remend: a third of the app's JavaScript) is a
 * chunk of its own. main.tsx starts fetching it with the app, so it is normally there before
 * the first answer; until then an answer shows as plain text, never as nothing.
 */
const MarkdownRenderer = lazy(() => import('./MarkdownRenderer.tsx'))

function Markdown(props: MarkdownProps) {
  return (
    <Suspense
      fallback={
        <div className="markdown" data-pending="true">
          <p className="plain-text">{props.source}</p>
        </div>
      }
    >
      <MarkdownRenderer {...props} />
    </Suspense>
  )
}

export default memo(Markdown)
