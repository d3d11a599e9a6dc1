import { useState } from 'react'

/** A fenced code block, with a button that copies its text. */
export default function CodeBlock({ language, text }: { language: string; text: string }) {
  const [copied, setCopied] = useState(false)
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text)
      setCopied(true)
      setTimeout(() => setCopied(false), 1500)
    } catch {
      setCopied(false)
    }
  }
  return (
    <figure className="code-block">
      <figcaption>
        <span>{language || 'code'}</span>
        <button type="button" className="link-button" onClick={copy}>
          {copied ? 'Copied' : 'Copy'}
        </button>
      </figcaption>
      <pre>
        <code className={language ? `language-${language}` : undefined}>{text}</code>
      </pre>
    </figure>
  )
}
