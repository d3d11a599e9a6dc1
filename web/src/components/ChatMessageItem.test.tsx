import { cleanup, render, waitFor, within } from '@testing-library/react'
import { afterEach, describe, expect, it } from 'vitest'
import type { AnswerState, ChatMessage } from '../lib/chatMessages.ts'
import { markdownLoaded } from '../testing/markdown.ts'
import ChatMessageItem from './ChatMessageItem.tsx'

afterEach(cleanup)

const ANSWER = [
  'Here is the **plan**, with `make test` and the [docs](https://example.com/docs):',
  '',
  '| Step | Owner |',
  '| :--- | ---: |',
  '| Build | *Ana* |',
  '| Test | Bo |',
  '',
  '- Backend',
  '  - Edge',
  '    - Routers',
  '  - Worker',
  '- Frontend',
  '',
  '> Ship it when **green**.',
  '',
  '```python',
  'def answer():',
  '    return 42',
  '```',
  '',
  'Done.',
].join('\n')

/** The answer cut as a model streams it: words, runs of spaces and single marks. */
const TOKENS = ANSWER.match(/\s+|\w+|[^\s\w]/g) ?? []

function answer(content: string, state: AnswerState): ChatMessage {
  const progress = { jobId: 'abcdef0123', idempotencyKey: 'key', lastSeq: 1, attempt: 1, state }
  return { id: 'm1', role: 'assistant', content, answer: progress }
}

/** The words on screen outside code, where no Markdown syntax may show. */
function proseText(body: HTMLElement): string {
  const copy = body.cloneNode(true) as HTMLElement
  copy.querySelectorAll('pre, code').forEach((element) => element.remove())
  return copy.textContent ?? ''
}

const texts = (elements: ArrayLike<Element>) =>
  Array.from(elements, (element) => element.textContent)

describe('ChatMessageItem renders a streamed answer', () => {
  it(
    'shows a table, a nested list, a quote and a fenced block arriving token by token',
    { timeout: 60_000 },
    async () => {
      expect(TOKENS.length).toBeGreaterThan(100)
      expect(TOKENS.join('')).toBe(ANSWER)
      const { container, rerender } = render(<ChatMessageItem message={answer('', 'pending')} />)
      await markdownLoaded()
      const body = () => within(container).getByTestId('message-text')
      const markersShown: string[] = []
      let prefix = ''
      for (const token of TOKENS) {
        prefix += token
        rerender(<ChatMessageItem message={answer(prefix, 'streaming')} />)
        // No half-written syntax ever shows: bold, code, link targets, table pipes.
        const prose = proseText(body())
        if (/\*\*|`|\]\(|\|/.test(prose)) markersShown.push(`${prefix} → ${prose}`)
      }
      expect(markersShown).toEqual([])
      rerender(<ChatMessageItem message={answer(ANSWER, 'done')} />)

      const table = body().querySelector('table')
      expect(texts(table?.querySelectorAll('th') ?? [])).toEqual(['Step', 'Owner'])
      expect(texts(table?.querySelectorAll('tbody td') ?? [])).toEqual([
        'Build',
        'Ana',
        'Test',
        'Bo',
      ])
      expect(table?.querySelector('tbody td em')?.textContent).toBe('Ana')
      expect(table?.querySelector('th:last-child')?.getAttribute('style')).toContain('right')

      const list = body().querySelector('.markdown > ul')
      expect(list?.querySelectorAll(':scope > li')).toHaveLength(2)
      const nested = list?.querySelectorAll(':scope > li > ul > li')
      expect(texts(nested ?? []).map((text) => text?.split('\n')[0])).toEqual(['Edge', 'Worker'])
      expect(nested?.[0].querySelector(':scope > ul > li')?.textContent).toBe('Routers')

      expect(body().querySelector('blockquote strong')?.textContent).toBe('green')
      expect(body().querySelector('p > strong')?.textContent).toBe('plan')
      expect(body().querySelector('p > code')?.textContent).toBe('make test')
      expect(body().querySelector('a')?.getAttribute('href')).toBe('https://example.com/docs')

      const code = body().querySelector('figure.code-block pre > code')
      expect(code?.className).toBe('language-python')
      expect(code?.textContent).toBe('def answer():\n    return 42')
      expect(body().querySelector('figure.code-block figcaption')?.textContent).toBe('pythonCopy')
      await waitFor(() => expect(code?.getAttribute('data-highlighted')).toBe('true'))
      expect(code?.textContent).toBe('def answer():\n    return 42')
      expect(body().lastElementChild?.lastElementChild?.textContent).toBe('Done.')
    },
  )

  it('ends with the same DOM as an answer that arrived at once', { timeout: 60_000 }, async () => {
    const streamed = render(<ChatMessageItem message={answer('', 'pending')} />)
    await markdownLoaded()
    let prefix = ''
    for (const token of TOKENS) {
      prefix += token
      streamed.rerender(<ChatMessageItem message={answer(prefix, 'streaming')} />)
    }
    streamed.rerender(<ChatMessageItem message={answer(ANSWER, 'done')} />)
    const atOnce = render(<ChatMessageItem message={answer(ANSWER, 'done')} />)
    await markdownLoaded()
    await waitFor(() => expect(document.querySelectorAll('[data-highlighted]')).toHaveLength(2))
    expect(streamed.container.innerHTML).toBe(atOnce.container.innerHTML)
  })
})
