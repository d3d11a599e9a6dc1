import { useEffect, useMemo, useState } from 'react'
import type { CodeToken, Tokenizer } from '../lib/highlight.ts'

/** Longer code stays plain: tokenizing runs again on every frame while a block streams. */
export const MAX_HIGHLIGHTED_CHARACTERS = 20_000

type Loaded = { language: string; tokenizer: Tokenizer | undefined }

/**
 * A code block's text as lines of coloured tokens, once Shiki and the language's grammar have
 * loaded (both with `import()`, so the main chunk carries none of it); undefined until then,
 * and for languages without a grammar. Tokenizing is synchronous, memoized on the text.
 */
export function useHighlightedCode(text: string, language: string): CodeToken[][] | undefined {
  const tokenizer = useTokenizer(language)
  return useMemo(
    () => (tokenizer && text.length <= MAX_HIGHLIGHTED_CHARACTERS ? tokenizer(text) : undefined),
    [tokenizer, text],
  )
}

function useTokenizer(language: string): Tokenizer | undefined {
  const [loaded, setLoaded] = useState<Loaded | undefined>(undefined)
  useEffect(() => {
    if (language === '') return
    let current = true
    import('../lib/highlight.ts')
      .then((highlight) => highlight.loadTokenizer(language))
      .then(
        (tokenizer) => {
          if (current) setLoaded({ language, tokenizer })
        },
        // A chunk that failed to load (offline, a new deploy) leaves the code plain.
        () => undefined,
      )
    return () => {
      current = false
    }
  }, [language])
  return loaded?.language === language ? loaded.tokenizer : undefined
}
