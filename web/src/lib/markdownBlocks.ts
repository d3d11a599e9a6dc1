/**
 * An answer cut into its top-level Markdown blocks, so that the renderer parses again only the
 * block that is still growing: while an answer streams, every frame would otherwise parse the
 * whole answer, and a Markdown parser of the CommonMark kind takes tens of milliseconds for a
 * few kilobytes. A cut falls only where CommonMark starts a new block whatever came before:
 * after a blank line, before a line that starts at the margin, outside a fenced code block, and
 * not before a list item (a list stays one list). Joined with '\n', the blocks give back the
 * answer. An answer with link or footnote definitions (`[x]: …`), which reach across blocks,
 * stays one block.
 */
const FENCE = /^ {0,3}(`{3,}|~{3,})/
const LIST_ITEM = /^([-*+]|\d{1,9}[.)])(\s|$)/
const DEFINITION = /^ {0,3}\[[^\]\n]+\]:/m

export function splitBlocks(source: string): string[] {
  if (DEFINITION.test(source)) return [source]
  const blocks: string[] = []
  let current: string[] = []
  let fence: string | undefined
  let afterBlank = false
  for (const line of source.split('\n')) {
    const startsBlock = afterBlank && /^\S/.test(line) && !LIST_ITEM.test(line)
    if (fence === undefined && startsBlock && current.length > 0) {
      blocks.push(current.join('\n'))
      current = []
    }
    current.push(line)
    fence = nextFence(fence, line)
    afterBlank = line.trim() === ''
  }
  blocks.push(current.join('\n'))
  return blocks
}

/** The fence open after `line`: a fence opens, or closes with as many of the same marks. */
function nextFence(open: string | undefined, line: string): string | undefined {
  const marks = FENCE.exec(line)?.[1]
  if (open === undefined) return marks
  const closes = marks !== undefined && marks[0] === open[0] && marks.length >= open.length
  return closes && line.trim() === marks ? undefined : open
}
