import { describe, expect, it } from 'vitest'
import { grammarName, loadTokenizer } from './highlight.ts'

describe('highlight', () => {
  it.each([
    ['py', 'python'],
    ['Python', 'python'],
    [' ts ', 'typescript'],
    ['c++', 'cpp'],
    ['sh', 'bash'],
    ['brainfuck', undefined],
    ['__proto__', undefined],
    ['constructor', undefined],
    ['', undefined],
  ])('names the grammar of %j: %j', (language, name) => {
    expect(grammarName(language)).toBe(name)
  })

  it('tokenizes code into coloured tokens that give back the code exactly', async () => {
    const tokenize = await loadTokenizer('py')
    const code = 'def f(x):\n    return x ** 2  # <b>not html</b>\n\n'
    const lines = tokenize?.(code) ?? []
    expect(lines.map((line) => line.map((token) => token.content).join('')).join('\n')).toBe(code)
    const styles = lines.flat().map((token) => token.style)
    expect(styles.every((style) => '--shiki-light' in style && '--shiki-dark' in style)).toBe(true)
  })

  it('has no tokenizer for a language without a grammar', async () => {
    await expect(loadTokenizer('brainfuck')).resolves.toBeUndefined()
  })
})
