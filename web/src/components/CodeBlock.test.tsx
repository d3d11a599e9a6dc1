import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react'
import { afterEach, describe, expect, it, vi } from 'vitest'
import CodeBlock from './CodeBlock.tsx'

afterEach(() => {
  cleanup()
  vi.unstubAllGlobals()
})

const CODE = 'const answer = 42 // <script>alert(1)</script>\nconsole.log(answer)'

describe('CodeBlock', () => {
  it('copies its exact text', async () => {
    const writeText = vi.fn().mockResolvedValue(undefined)
    vi.stubGlobal('navigator', { ...navigator, clipboard: { writeText } })
    render(<CodeBlock language="js" text={CODE} />)
    fireEvent.click(screen.getByRole('button', { name: 'Copy' }))
    await screen.findByRole('button', { name: 'Copied' })
    expect(writeText).toHaveBeenCalledWith(CODE)
  })

  it('shows the code at once and colours it when the highlighter has loaded', async () => {
    const { container } = render(<CodeBlock language="js" text={CODE} />)
    const code = container.querySelector('pre > code')
    expect(code?.textContent).toBe(CODE)
    expect(code?.querySelector('span')).toBeNull()
    await waitFor(() => expect(code?.getAttribute('data-highlighted')).toBe('true'))
    expect(code?.textContent).toBe(CODE)
    const spans = code?.querySelectorAll<HTMLElement>('span[style]') ?? []
    const colours = Array.from(spans, (span) => span.style.getPropertyValue('--shiki-light'))
    expect(new Set(colours).size).toBeGreaterThan(2)
    expect(container.querySelector('script')).toBeNull()
  })

  it('leaves a language without a grammar plain', async () => {
    const { container } = render(
      <CodeBlock language="brainfuck" text="+[-->-[>>+>-----<<]<--<---]" />,
    )
    // The same tick in which a known language would have been coloured.
    render(<CodeBlock language="js" text="let x = 1" />)
    await waitFor(() => expect(document.querySelectorAll('[data-highlighted]')).toHaveLength(1))
    expect(container.querySelector('[data-highlighted], pre span')).toBeNull()
    expect(container.querySelector('figcaption span')?.textContent).toBe('brainfuck')
  })
})
