import { cleanup, render } from '@testing-library/react'
import type { Options } from 'react-markdown'
import { afterEach, describe, expect, it, vi } from 'vitest'
import MarkdownRenderer from './MarkdownRenderer.tsx'

// Every text react-markdown is asked to parse.
const parsed = vi.hoisted(() => [] as string[])
vi.mock('react-markdown', async (importOriginal) => {
  const original = await importOriginal<typeof import('react-markdown')>()
  const counted = (options: Options) => {
    parsed.push(String(options.children))
    return original.default(options)
  }
  return { ...original, default: counted }
})

afterEach(cleanup)

describe('MarkdownRenderer', () => {
  it('parses only the block that is still growing while an answer streams', () => {
    const answer =
      '| a | b |\n| - | - |\n| 1 | 2 |\n\nSome **bold** words, one at a time, to the end.'
    const { container, rerender } = render(<MarkdownRenderer source="" streaming />)
    for (let end = 1; end <= answer.length; end += 1) {
      rerender(<MarkdownRenderer source={answer.slice(0, end)} streaming />)
    }
    rerender(<MarkdownRenderer source={answer} />)
    expect(container.querySelector('table td')?.textContent).toBe('1')
    expect(container.querySelector('p strong')?.textContent).toBe('bold')
    // Once the paragraph after it began, the table was never parsed again; the paragraph was,
    // as it grew (not for every character: a held-back marker changes nothing on screen).
    const paragraphStart = parsed.findIndex((text) => text.startsWith('S'))
    expect(paragraphStart).toBeGreaterThan(0)
    expect(parsed.slice(paragraphStart).filter((text) => text.startsWith('| a'))).toEqual([])
    expect(parsed.slice(paragraphStart).length).toBeGreaterThan(20)
  })
})
