import { memo, useEffect, useRef, useState, type CSSProperties, type ReactNode } from 'react'
import { useHighlightedCode } from '../hooks/useHighlightedCode.ts'
import type { CodeToken } from '../lib/highlight.ts'

/**
 * A fenced code block, with a button that copies its text. The text shows at once; colours
 * follow when the highlighter has loaded (lazily: see useHighlightedCode).
 */
function CodeBlock({ language, text }: { language: string; text: string }) {
  const lines = useHighlightedCode(text, language)
  return (
    <figure className="code-block" data-language={language || undefined}>
      <figcaption>
        <span>{language || 'code'}</span>
        <CopyButton text={text} />
      </figcaption>
      <pre>
        <code
          className={language ? `language-${language}` : undefined}
          data-highlighted={lines ? 'true' : undefined}
        >
          {lines ? renderLines(lines) : text}
        </code>
      </pre>
    </figure>
  )
}

export default memo(CodeBlock)

function renderLines(lines: CodeToken[][]): ReactNode[] {
  return lines.map((line, lineIndex) => (
    <span key={lineIndex}>
      {lineIndex > 0 && '\n'}
      {line.map((token, index) => (
        <span key={index} style={token.style as CSSProperties}>
          {token.content}
        </span>
      ))}
    </span>
  ))
}

function CopyButton({ text }: { text: string }) {
  const [copied, setCopied] = useState(false)
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined)
  useEffect(() => () => clearTimeout(timer.current), [])
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text)
      setCopied(true)
      clearTimeout(timer.current)
      timer.current = setTimeout(() => setCopied(false), 1500)
    } catch {
      setCopied(false)
    }
  }
  return (
    <button type="button" className="link-button" onClick={copy}>
      {copied ? 'Copied' : 'Copy'}
    </button>
  )
}
