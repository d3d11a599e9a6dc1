import { describe, expect, it } from 'vitest'
import { closeUnfinishedMarkdown } from './streamingMarkdown.ts'

describe('closeUnfinishedMarkdown', () => {
  it.each([
    ['Some **bol', 'Some **bol**'],
    ['Some *ital', 'Some *ital*'],
    ['Run `make te', 'Run `make te`'],
    ['~~gon', '~~gon~~'],
    ['See [the docs](https://exa', 'See the docs'],
    // A marker with nothing after it yet waits for the next token.
    ['Here is the **', 'Here is the'],
    ['Use `', 'Use'],
    ['- one\n*', '- one\n'],
    // The head of a table waits for its delimiter row, then shows.
    ['Plan:\n\n| a | b |', 'Plan:\n\n'],
    ['Plan:\n\n| a | b |\n| - | -', 'Plan:\n\n'],
    ['Plan:\n\n| a | b |\n| - | - |\n', 'Plan:\n\n'],
    ['| a | b |\n| - | - |\n| 1', '| a | b |\n| - | - |\n| 1'],
    ['| a | b |\n| - | - |\n\n', '| a | b |\n| - | - |\n\n'],
  ])('%j → %j', (source, shown) => {
    expect(closeUnfinishedMarkdown(source)).toBe(shown)
  })

  it.each([
    'Finished **bold** and `code`.',
    'It costs $5 and $6.',
    '2 * 3 = 6',
    '```py\nx = a **',
    '```md\n| a | b |',
    '```\n`',
  ])('leaves %j alone', (source) => {
    expect(closeUnfinishedMarkdown(source)).toBe(source)
  })
})
