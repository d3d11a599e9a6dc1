import { describe, expect, it } from 'vitest'
import { parseInline, parseMarkdown, safeHref } from './markdown.ts'

describe('parseMarkdown', () => {
  it('parses headings, paragraphs, lists and fenced code', () => {
    const blocks = parseMarkdown(
      '# Title\n\nSome *text*\nnext line\n\n- one\n- two\n\n3. three\n4. four\n\n```ts\nconst a = 1\n```',
    )
    expect(blocks.map((block) => block.type)).toEqual([
      'heading',
      'paragraph',
      'list',
      'list',
      'code',
    ])
    expect(blocks[2]).toMatchObject({
      ordered: false,
      items: [[{ text: 'one' }], [{ text: 'two' }]],
    })
    expect(blocks[3]).toMatchObject({ ordered: true, start: 3 })
    expect(blocks[4]).toEqual({ type: 'code', language: 'ts', text: 'const a = 1' })
  })

  it('treats an unclosed fence (a stream cut short) as code up to the end', () => {
    expect(parseMarkdown('```py\nprint(1)\nprint(2)')).toEqual([
      { type: 'code', language: 'py', text: 'print(1)\nprint(2)' },
    ])
  })

  it('keeps raw HTML as text', () => {
    expect(parseMarkdown('<script>alert(1)</script>')).toEqual([
      { type: 'paragraph', children: [{ type: 'text', text: '<script>alert(1)</script>' }] },
    ])
  })
})

describe('parseInline', () => {
  it('parses bold, italic, code and escapes', () => {
    expect(parseInline('**bold** and _it_ and `a*b` \\*not\\*')).toEqual([
      { type: 'strong', children: [{ type: 'text', text: 'bold' }] },
      { type: 'text', text: ' and ' },
      { type: 'emphasis', children: [{ type: 'text', text: 'it' }] },
      { type: 'text', text: ' and ' },
      { type: 'code', text: 'a*b' },
      { type: 'text', text: ' *not*' },
    ])
  })

  it('leaves lone markers and snake_case alone', () => {
    expect(parseInline('2 * 3 * 4 and snake_case_name')).toEqual([
      { type: 'text', text: '2 * 3 * 4 and snake_case_name' },
    ])
  })

  it('links http(s) targets only; other schemes keep just their words', () => {
    expect(parseInline('[docs](https://example.com/a) [x](javascript:alert(1))')).toEqual([
      { type: 'link', href: 'https://example.com/a', children: [{ type: 'text', text: 'docs' }] },
      { type: 'text', text: ' ' },
      { type: 'text', text: 'x' },
      { type: 'text', text: ')' },
    ])
  })

  it('links bare URLs without their trailing punctuation', () => {
    expect(parseInline('see https://example.com/x.')).toEqual([
      { type: 'text', text: 'see ' },
      {
        type: 'link',
        href: 'https://example.com/x',
        children: [{ type: 'text', text: 'https://example.com/x' }],
      },
      { type: 'text', text: '.' },
    ])
  })
})

describe('safeHref', () => {
  it.each([
    ['https://example.com', 'https://example.com/'],
    ['http://example.com/a?b=c', 'http://example.com/a?b=c'],
    ['javascript:alert(1)', undefined],
    ['data:text/html,<b>x</b>', undefined],
    ['/relative', undefined],
    [' JAVASCRIPT:alert(1)', undefined],
  ])('%s → %s', (raw, expected) => {
    expect(safeHref(raw)).toBe(expected)
  })
})
