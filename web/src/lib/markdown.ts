/**
 * A small Markdown parser for model answers: headings, paragraphs, bold and italic, inline
 * code, fenced code blocks, lists and links. It returns plain data, never HTML: the renderer
 * builds React elements from it, so text from a model can never become markup. Links keep
 * only http(s) targets. Unfinished input (a stream cut mid-answer) parses too: an unclosed
 * fence is a code block up to the end.
 */
export type Inline =
  | { type: 'text'; text: string }
  | { type: 'strong'; children: Inline[] }
  | { type: 'emphasis'; children: Inline[] }
  | { type: 'code'; text: string }
  | { type: 'link'; href: string; children: Inline[] }
  | { type: 'break' }

export type Block =
  | { type: 'heading'; level: 1 | 2 | 3 | 4 | 5 | 6; children: Inline[] }
  | { type: 'paragraph'; children: Inline[] }
  | { type: 'code'; language: string; text: string }
  | { type: 'list'; ordered: boolean; start: number; items: Inline[][] }
  | { type: 'rule' }

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)/
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/
const BULLET = /^ {0,3}[-*+]\s+(.*)$/
const ORDERED = /^ {0,3}(\d{1,9})[.)]\s+(.*)$/
const RULE = /^ {0,3}([-*_])(\s*\1){2,}\s*$/

/** The URL if it is an absolute http(s) URL, else undefined. */
export function safeHref(raw: string): string | undefined {
  try {
    const url = new URL(raw.trim())
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined
  } catch {
    return undefined
  }
}

export function parseMarkdown(source: string): Block[] {
  const lines = source.replace(/\r\n?/g, '\n').split('\n')
  const blocks: Block[] = []
  let paragraph: string[] = []
  const endParagraph = () => {
    if (paragraph.length > 0) blocks.push({ type: 'paragraph', children: parseLines(paragraph) })
    paragraph = []
  }
  let index = 0
  while (index < lines.length) {
    const line = lines[index]
    const fence = FENCE.exec(line)
    if (fence) {
      endParagraph()
      const closing = new RegExp(`^ {0,3}${fence[1][0]}{${fence[1].length},}\\s*$`)
      const body: string[] = []
      index += 1
      while (index < lines.length && !closing.test(lines[index])) body.push(lines[index++])
      blocks.push({ type: 'code', language: fence[2], text: body.join('\n') })
      index += 1
      continue
    }
    const heading = HEADING.exec(line)
    const list = BULLET.exec(line) ?? ORDERED.exec(line)
    if (line.trim() === '') {
      endParagraph()
    } else if (RULE.test(line)) {
      endParagraph()
      blocks.push({ type: 'rule' })
    } else if (heading) {
      endParagraph()
      const level = heading[1].length as 1 | 2 | 3 | 4 | 5 | 6
      blocks.push({ type: 'heading', level, children: parseInline(heading[2]) })
    } else if (list) {
      endParagraph()
      index = parseList(lines, index, blocks)
      continue
    } else {
      paragraph.push(line.trim())
    }
    index += 1
  }
  endParagraph()
  return blocks
}

/** Consecutive items of one kind; indented lines continue the item above. */
function parseList(lines: string[], first: number, blocks: Block[]): number {
  const ordered = ORDERED.exec(lines[first]) !== null
  const pattern = ordered ? ORDERED : BULLET
  const start = ordered ? Number(ORDERED.exec(lines[first])?.[1] ?? 1) : 1
  const items: string[][] = []
  let index = first
  while (index < lines.length) {
    const line = lines[index]
    const item = pattern.exec(line)
    if (item) {
      items.push([(ordered ? item[2] : item[1]).trim()])
    } else if (/^\s+\S/.test(line) && !FENCE.test(line)) {
      const nested = BULLET.exec(line.trim()) ?? ORDERED.exec(line.trim())
      items[items.length - 1].push(nested ? (nested[2] ?? nested[1]) : line.trim())
    } else {
      break
    }
    index += 1
  }
  blocks.push({ type: 'list', ordered, start, items: items.map(parseLines) })
  return index
}

function parseLines(lines: string[]): Inline[] {
  return lines.flatMap((line, index) => [
    ...(index > 0 ? [{ type: 'break' } as const] : []),
    ...parseInline(line),
  ])
}

const ESCAPABLE = /[\\`*_[\]()#+\-.!~>]/
const WORD = /[\p{L}\p{N}]/u

export function parseInline(text: string): Inline[] {
  const nodes: Inline[] = []
  let plain = ''
  const pushText = () => {
    if (plain !== '') nodes.push({ type: 'text', text: plain })
    plain = ''
  }
  let index = 0
  while (index < text.length) {
    const char = text[index]
    const parsed = parseAt(text, index)
    if (parsed) {
      pushText()
      nodes.push(parsed.node)
      index = parsed.end
    } else if (char === '\\' && ESCAPABLE.test(text[index + 1] ?? '')) {
      plain += text[index + 1]
      index += 2
    } else {
      plain += char
      index += 1
    }
  }
  pushText()
  return nodes
}

type Parsed = { node: Inline; end: number } | undefined

function parseAt(text: string, index: number): Parsed {
  const char = text[index]
  if (char === '`') return parseCode(text, index)
  if (char === '*' || char === '_') return parseEmphasis(text, index)
  if (char === '[') return parseLink(text, index)
  if (char === 'h' && !WORD.test(text[index - 1] ?? '')) return parseAutolink(text, index)
  return undefined
}

function parseCode(text: string, index: number): Parsed {
  const run = /^`+/.exec(text.slice(index))?.[0] ?? '`'
  const close = text.indexOf(run, index + run.length)
  if (close < 0) return undefined
  const inner = text.slice(index + run.length, close)
  const trimmed = /^ .* $/.test(inner) ? inner.slice(1, -1) : inner
  return { node: { type: 'code', text: trimmed }, end: close + run.length }
}

function parseEmphasis(text: string, index: number): Parsed {
  const char = text[index]
  if (char === '_' && WORD.test(text[index - 1] ?? '')) return undefined
  const strong = text[index + 1] === char
  const marker = strong ? char + char : char
  const from = index + marker.length
  if (/\s/.test(text[from] ?? ' ')) return undefined
  let close = text.indexOf(marker, from + 1)
  // A single `*` must not close on the first half of a `**`.
  while (!strong && close >= 0 && text[close + 1] === char) close = text.indexOf(marker, close + 2)
  if (close < 0 || /\s/.test(text[close - 1])) return undefined
  const children = parseInline(text.slice(from, close))
  const node: Inline = strong ? { type: 'strong', children } : { type: 'emphasis', children }
  return { node, end: close + marker.length }
}

function parseLink(text: string, index: number): Parsed {
  const labelEnd = text.indexOf(']', index + 1)
  if (labelEnd < 0 || text[labelEnd + 1] !== '(') return undefined
  const targetEnd = text.indexOf(')', labelEnd + 2)
  if (targetEnd < 0) return undefined
  const children = parseInline(text.slice(index + 1, labelEnd))
  const href = safeHref(text.slice(labelEnd + 2, targetEnd).split(/\s/)[0] ?? '')
  // A link to anything but http(s) keeps its words and loses its target.
  const node: Inline = href
    ? { type: 'link', href, children }
    : { type: 'text', text: plainText(children) }
  return { node, end: targetEnd + 1 }
}

function parseAutolink(text: string, index: number): Parsed {
  const match = /^https?:\/\/[^\s<>"'`]+/.exec(text.slice(index))
  if (!match) return undefined
  const raw = match[0].replace(/[.,;:!?)\]]+$/, '')
  const href = safeHref(raw)
  if (!href) return undefined
  return {
    node: { type: 'link', href, children: [{ type: 'text', text: raw }] },
    end: index + raw.length,
  }
}

export function plainText(nodes: readonly Inline[]): string {
  return nodes
    .map((node) => {
      if (node.type === 'text' || node.type === 'code') return node.text
      if (node.type === 'break') return '\n'
      return plainText(node.children)
    })
    .join('')
}
