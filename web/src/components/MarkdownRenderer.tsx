import { memo } from 'react'
import ReactMarkdown, { type Components, type ExtraProps } from 'react-markdown'
import remarkBreaks from 'remark-breaks'
import remarkGfm from 'remark-gfm'
import { safeHref } from '../lib/links.ts'
import { splitBlocks } from '../lib/markdownBlocks.ts'
import { closeUnfinishedMarkdown } from '../lib/streamingMarkdown.ts'
import CodeBlock from './CodeBlock.tsx'
import type { MarkdownProps } from './Markdown.tsx'

/**
 * A model's answer as Markdown (CommonMark and GitHub's tables, task lists, strikethrough and
 * autolinks), rendered by react-markdown into React elements: no HTML string reaches the DOM.
 * A chunk of its own: use it through Markdown.tsx, which loads it.
 * HTML in the answer stays text (no rehype-raw), links keep only http(s) targets and open in a
 * new tab without a window.opener or a referrer, and images show as links instead of loading.
 * Each top-level block is rendered on its own and memoized (lib/markdownBlocks.ts), so a frame
 * of a streaming answer parses only its last block. There, what the last tokens left open
 * (`**bold`, `` `code``, `[link](htt`) is closed first (lib/streamingMarkdown.ts), so
 * half-written markers never flash on screen; an open fence is a code block up to the end.
 */
function MarkdownRenderer({ source, streaming = false }: MarkdownProps) {
  const blocks = splitBlocks(source)
  const last = blocks.length - 1
  return (
    <div className="markdown">
      {blocks.map((block, index) => (
        <MarkdownBlock
          key={index}
          source={streaming && index === last ? closeUnfinishedMarkdown(block) : block}
        />
      ))}
    </div>
  )
}

const MarkdownBlock = memo(function MarkdownBlock({ source }: { source: string }) {
  return (
    <ReactMarkdown
      remarkPlugins={REMARK_PLUGINS}
      components={COMPONENTS}
      urlTransform={urlTransform}
    >
      {source}
    </ReactMarkdown>
  )
})

export default memo(MarkdownRenderer)

// A single newline is a line break, as in a chat (and GitHub's comments), not a space.
const REMARK_PLUGINS = [remarkGfm, remarkBreaks]

function urlTransform(url: string): string {
  return safeHref(url) ?? ''
}

type Heading = 'h3' | 'h4' | 'h5' | 'h6'

/** Headings start at h3: the page and the conversation own h1 and h2. */
function heading(tag: Heading): Components['h1'] {
  const Tag = tag
  return function ShiftedHeading({ children }) {
    return <Tag>{children}</Tag>
  }
}

const COMPONENTS: Components = {
  h1: heading('h3'),
  h2: heading('h4'),
  h3: heading('h5'),
  h4: heading('h6'),
  h5: heading('h6'),
  h6: heading('h6'),
  a: ({ href, children }) =>
    href ? (
      <a href={href} target="_blank" rel="noopener noreferrer nofollow">
        {children}
      </a>
    ) : (
      // A target that is not http(s) (javascript:, data:, relative): the words, no link.
      <span className="unlinked">{children}</span>
    ),
  img: ({ src, alt }) => {
    const label = alt || (typeof src === 'string' ? src : '') || 'image'
    return typeof src === 'string' && src !== '' ? (
      <a href={src} target="_blank" rel="noopener noreferrer nofollow" className="image-link">
        {label}
      </a>
    ) : (
      <span className="unlinked">{label}</span>
    )
  },
  pre: ({ node }) => <CodeBlock {...codeOf(node)} />,
  table: ({ children }) => (
    <div className="table-scroll">
      <table>{children}</table>
    </div>
  ),
}

type Element = NonNullable<ExtraProps['node']>
type Node = Element['children'][number]

/** The language and text of a `pre > code` element as mdast-util-to-hast builds it. */
function codeOf(pre: Element | undefined): { language: string; text: string } {
  const code = pre?.children.find((child) => child.type === 'element' && child.tagName === 'code')
  if (code?.type !== 'element') return { language: '', text: pre ? textOf(pre) : '' }
  const classes = code.properties.className
  const language = Array.isArray(classes)
    ? (classes.map(String).find((name) => name.startsWith('language-')) ?? '')
    : ''
  return { language: language.slice('language-'.length), text: textOf(code).replace(/\n$/, '') }
}

function textOf(node: Element | Node): string {
  if (node.type === 'text') return node.value
  if (node.type === 'element') return node.children.map(textOf).join('')
  return ''
}
