import { describe, expect, it } from 'vitest'
import { safeHref } from './links.ts'

describe('safeHref', () => {
  it.each([
    ['https://example.com', 'https://example.com/'],
    ['http://example.com/a?b=c', 'http://example.com/a?b=c'],
    ['javascript:alert(1)', undefined],
    [' JAVASCRIPT:alert(1)', undefined],
    ['java\tscript:alert(1)', undefined],
    ['data:text/html,<b>x</b>', undefined],
    ['vbscript:msgbox(1)', undefined],
    ['/relative', undefined],
    ['//example.com/protocol-relative', undefined],
    ['', undefined],
  ])('%j → %j', (raw, expected) => {
    expect(safeHref(raw)).toBe(expected)
  })
})
