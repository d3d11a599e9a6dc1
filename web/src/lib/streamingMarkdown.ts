/**
 * Markdown cut off mid-stream, made whole for display. remend (by the authors of streamdown)
 * closes what the last tokens left open: `**bold` → `**bold**`, `` `code`` → `` `code` ``,
 * `[docs](https://exa` → `docs`. Two cases it leaves alone we hold back for a moment instead:
 * a marker that is the very last token, with no text after it yet (`Here is the **`), until the
 * next token shows what it opens; and the first lines of a table (`| a | b |`), which GFM
 * makes a table only once its delimiter row is whole. Inside a code block nothing changes.
 */
import remend, { isWithinCodeBlock, type RemendHandler, type RemendOptions } from 'remend'

// A run of emphasis, strikethrough or code marks at the very end, after a space or a line start.
const TRAILING_MARKER = /(^|\s)(\*{1,3}|_{1,3}|~{1,2}|`{1,2})$/

const holdTrailingMarker: RemendHandler = {
  name: 'hold-trailing-marker',
  handle(text) {
    const match = TRAILING_MARKER.exec(text)
    if (!match) return text
    const start = match.index + match[1].length
    return isWithinCodeBlock(text, start) ? text : text.slice(0, start)
  },
}

// A line that can start a GFM table: a pipe after at most three spaces.
const TABLE_LINE = /^ {0,3}\|/

const holdTableHead: RemendHandler = {
  name: 'hold-table-head',
  handle(text) {
    // The newline that ends a line is not yet the blank line that would end the table.
    const open = text.endsWith('\n') && !text.endsWith('\n\n')
    const lines = (open ? text.slice(0, -1) : text).split('\n')
    let first = lines.length
    while (first > 0 && TABLE_LINE.test(lines[first - 1])) first -= 1
    const tableLines = lines.length - first
    if (tableLines === 0 || tableLines > 2) return text
    const start = lines.slice(0, first).join('\n').length + (first > 0 ? 1 : 0)
    return isWithinCodeBlock(text, start) ? text : text.slice(0, start)
  },
}

const OPTIONS: RemendOptions = {
  // An unfinished link shows its words only, never a placeholder target.
  linkMode: 'text-only',
  // `$` stays a dollar sign: the chat renders no math.
  katex: false,
  inlineKatex: false,
  handlers: [holdTrailingMarker, holdTableHead],
}

export function closeUnfinishedMarkdown(source: string): string {
  return remend(source, OPTIONS)
}
