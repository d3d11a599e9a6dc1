import { cleanup, render } from '@testing-library/react'
import { afterEach, describe, expect, it } from 'vitest'
import { markdownLoaded } from '../testing/markdown.ts'
import Markdown from './Markdown.tsx'

afterEach(cleanup)

const ATTACKS = [
  '<script>alert(1)</script>',
  '',
  'Inline <img src=x onerror=alert(1)> and <a href="javascript:alert(2)">html link</a>.',
  '',
  '<iframe src="https://evil.example"></iframe>',
  '',
  '<svg onload=alert(3)><circle r="1"/></svg>',
].join('\n')

describe('Markdown', () => {
  // First in the file: later tests find the renderer loaded (each file has its own modules).
  it('shows an answer as plain text until its renderer has loaded', async () => {
    const { container } = render(<Markdown source={'**Hello** <b>x</b>'} />)
    expect(container.querySelector('.markdown[data-pending] p')?.textContent).toBe(
      '**Hello** <b>x</b>',
    )
    await markdownLoaded()
    expect(container.querySelector('strong')?.textContent).toBe('Hello')
    expect(container.querySelector('b')).toBeNull()
  })

  it.each([false, true])('shows HTML from a model as text (streaming: %s)', async (streaming) => {
    const { container } = render(<Markdown source={ATTACKS} streaming={streaming} />)
    await markdownLoaded()
    expect(container.querySelector('script, img, iframe, svg, a, [onerror], [onload]')).toBeNull()
    expect(container.textContent).toContain('<script>alert(1)</script>')
    expect(container.textContent).toContain('<img src=x onerror=alert(1)>')
  })

  it.each([
    '[click me](javascript:alert(1))',
    '[click me](JaVaScRiPt:alert(1))',
    '[click me](java%0ascript:alert(1))',
    '[click me](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)',
    '[click me](vbscript:msgbox(1))',
    '[click me](/v1/jobs)',
    '[click me][ref]\n\n[ref]: javascript:alert(1)',
  ])('keeps the words of %j but no link', async (source) => {
    const { container } = render(<Markdown source={source} />)
    await markdownLoaded()
    expect(container.querySelector('a')).toBeNull()
    expect(container.querySelector('[href]')).toBeNull()
    expect(container.textContent).toBe('click me')
  })

  it('never loads an image from an answer: it becomes a link', async () => {
    const { container } = render(
      <Markdown source={'![chart](https://tracker.example/p.png) ![x](javascript:alert(1))'} />,
    )
    await markdownLoaded()
    expect(container.querySelector('img')).toBeNull()
    const links = container.querySelectorAll('a')
    expect(links).toHaveLength(1)
    expect(links[0].textContent).toBe('chart')
    expect(links[0].getAttribute('href')).toBe('https://tracker.example/p.png')
  })

  it('opens http(s) links in a new tab without opener or referrer', async () => {
    const { container } = render(
      <Markdown source="[site](https://example.com) and https://example.org/a." />,
    )
    await markdownLoaded()
    const links = Array.from(container.querySelectorAll('a'))
    expect(links.map((link) => link.getAttribute('href'))).toEqual([
      'https://example.com/',
      'https://example.org/a',
    ])
    for (const link of links) {
      expect(link.getAttribute('target')).toBe('_blank')
      expect(link.getAttribute('rel')?.split(' ')).toEqual(
        expect.arrayContaining(['noopener', 'noreferrer']),
      )
    }
  })

  it('starts headings at h3, below the page and the conversation', async () => {
    const { container } = render(<Markdown source={'# One\n\n## Two\n\n###### Six'} />)
    await markdownLoaded()
    expect(Array.from(container.querySelectorAll('h3, h4, h6')).map((h) => h.tagName)).toEqual([
      'H3',
      'H4',
      'H6',
    ])
    expect(container.querySelector('h1, h2')).toBeNull()
  })

  it('keeps a single newline as a line break', async () => {
    const { container } = render(<Markdown source={'Roses are red,\nviolets are blue.'} />)
    await markdownLoaded()
    expect(container.querySelectorAll('p')).toHaveLength(1)
    expect(container.querySelector('p br')).not.toBeNull()
  })

  it('renders GFM strikethrough and task lists', async () => {
    const { container } = render(<Markdown source={'~~old~~ new\n\n- [x] done\n- [ ] todo'} />)
    await markdownLoaded()
    expect(container.querySelector('del')?.textContent).toBe('old')
    const boxes = container.querySelectorAll<HTMLInputElement>('input[type="checkbox"]')
    expect(Array.from(boxes, (box) => [box.checked, box.disabled])).toEqual([
      [true, true],
      [false, true],
    ])
  })

  it('renders an unclosed fence as a code block while it streams', async () => {
    const { container } = render(
      <Markdown source={'Run:\n\n```sh\nmake test\nmake li'} streaming />,
    )
    await markdownLoaded()
    expect(container.querySelector('pre code')?.textContent).toBe('make test\nmake li')
  })
})
