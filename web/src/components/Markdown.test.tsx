import { cleanup, render } from '@testing-library/react'
import { afterEach, describe, expect, it } from 'vitest'
import Markdown from './Markdown.tsx'

afterEach(cleanup)

describe('Markdown', () => {
  it('renders formatting and code blocks as elements', () => {
    const { container } = render(
      <Markdown source={'## Plan\n\n**Bold** and `code`\n\n- a\n- b\n\n```js\nlet x = 1\n```'} />,
    )
    expect(container.querySelector('h4')?.textContent).toBe('Plan')
    expect(container.querySelector('strong')?.textContent).toBe('Bold')
    expect(container.querySelectorAll('li')).toHaveLength(2)
    expect(container.querySelector('pre code.language-js')?.textContent).toBe('let x = 1')
  })

  it('never turns model text into markup', () => {
    const source =
      '<img src=x onerror="alert(1)"> <script>alert(2)</script>\n\n[x](javascript:alert(3))'
    const { container } = render(<Markdown source={source} />)
    expect(container.querySelector('img, script')).toBeNull()
    expect(container.querySelector('a')).toBeNull()
    expect(container.textContent).toContain('<img src=x onerror="alert(1)">')
  })

  it('opens http(s) links safely in a new tab', () => {
    const { container } = render(<Markdown source="[site](https://example.com)" />)
    const link = container.querySelector('a')
    expect(link?.getAttribute('href')).toBe('https://example.com/')
    expect(link?.getAttribute('rel')).toBe('noopener noreferrer nofollow')
  })
})
