import { memo, type ReactNode } from 'react'
import { parseMarkdown, type Block, type Inline } from '../lib/markdown.ts'
import CodeBlock from './CodeBlock.tsx'

/** Renders Markdown as React elements only: no HTML string ever reaches the DOM. */
function Markdown({ source }: { source: string }) {
  return <div className="markdown">{parseMarkdown(source).map(renderBlock)}</div>
}

export default memo(Markdown)

function renderBlock(block: Block, index: number): ReactNode {
  switch (block.type) {
    case 'heading': {
      const Heading = `h${Math.min(6, block.level + 2)}` as 'h3'
      return <Heading key={index}>{renderInlines(block.children)}</Heading>
    }
    case 'paragraph':
      return <p key={index}>{renderInlines(block.children)}</p>
    case 'code':
      return <CodeBlock key={index} language={block.language} text={block.text} />
    case 'rule':
      return <hr key={index} />
    case 'list': {
      const items = block.items.map((item, itemIndex) => (
        <li key={itemIndex}>{renderInlines(item)}</li>
      ))
      return block.ordered ? (
        <ol key={index} start={block.start}>
          {items}
        </ol>
      ) : (
        <ul key={index}>{items}</ul>
      )
    }
  }
}

function renderInlines(nodes: readonly Inline[]): ReactNode[] {
  return nodes.map(renderInline)
}

function renderInline(node: Inline, index: number): ReactNode {
  switch (node.type) {
    case 'text':
      return node.text
    case 'break':
      return <br key={index} />
    case 'code':
      return <code key={index}>{node.text}</code>
    case 'strong':
      return <strong key={index}>{renderInlines(node.children)}</strong>
    case 'emphasis':
      return <em key={index}>{renderInlines(node.children)}</em>
    case 'link':
      return (
        <a key={index} href={node.href} target="_blank" rel="noopener noreferrer nofollow">
          {renderInlines(node.children)}
        </a>
      )
  }
}
