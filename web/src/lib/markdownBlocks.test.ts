import { describe, expect, it } from 'vitest'
import { splitBlocks } from './markdownBlocks.ts'

describe('splitBlocks', () => {
  it.each([
    ['One.\n\nTwo.', ['One.\n', 'Two.']],
    ['# Title\n\n| a | b |\n| - | - |\n\nAfter.', ['# Title\n', '| a | b |\n| - | - |\n', 'After.']],
    // A list stays whole, loose or nested; what is indented belongs to the item above.
    ['- a\n\n- b\n\n  more of b\n\n1. c\n\nEnd.', ['- a\n\n- b\n\n  more of b\n\n1. c\n', 'End.']],
    // Blank lines inside a fence never cut it, whatever follows them.
    ['```py\nx = 1\n\ny = 2\n```\n\nText.', ['```py\nx = 1\n\ny = 2\n```\n', 'Text.']],
    ['~~~~\n```\n\nstill code\n~~~~\n\nText.', ['~~~~\n```\n\nstill code\n~~~~\n', 'Text.']],
    // An unclosed fence (mid-stream) runs to the end.
    ['Intro.\n\n```js\nlet a\n\nlet b', ['Intro.\n', '```js\nlet a\n\nlet b']],
    ['No blank line\nbetween lines.', ['No blank line\nbetween lines.']],
    ['', ['']],
  ])('%j → %j', (source, blocks) => {
    expect(splitBlocks(source)).toEqual(blocks)
    expect(splitBlocks(source).join('\n')).toBe(source)
  })

  it('keeps an answer with definitions whole: they reach across blocks', () => {
    const source = 'See [the docs][d].\n\nMore.\n\n[d]: https://example.com'
    expect(splitBlocks(source)).toEqual([source])
  })
})
