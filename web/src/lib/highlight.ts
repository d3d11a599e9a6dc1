/**
 * Syntax highlighting for code blocks in answers, with Shiki. This module is the heavy part of
 * the chat's Markdown: it is only ever imported with `import()`, so it (Shiki's core, its
 * JavaScript regex engine and two themes) is a chunk of its own, fetched when the first code
 * block shows up, and every grammar is a chunk of its own again, fetched the first time a block
 * in that language does. Tokens are plain data (text and colours): the renderer builds elements
 * from them, so code from a model can never become markup.
 */
import { createHighlighterCore, type HighlighterCore, type LanguageRegistration } from 'shiki/core'
import { createJavaScriptRegexEngine } from 'shiki/engine/javascript'
import githubDark from 'shiki/themes/github-dark.mjs'
import githubLight from 'shiki/themes/github-light.mjs'

export type CodeToken = {
  content: string
  /** CSS custom properties `--shiki-light` and `--shiki-dark` (chat.css picks one). */
  style: Record<string, string>
}

/** Lines of tokens; joined with '\n' they give back the code exactly. */
export type Tokenizer = (code: string) => CodeToken[][]

type Grammar = () => Promise<{ default: LanguageRegistration[] }>

/** The languages models write most; an unknown one stays plain text. */
const GRAMMARS: Record<string, Grammar> = {
  bash: () => import('shiki/langs/bash.mjs'),
  c: () => import('shiki/langs/c.mjs'),
  cpp: () => import('shiki/langs/cpp.mjs'),
  csharp: () => import('shiki/langs/csharp.mjs'),
  css: () => import('shiki/langs/css.mjs'),
  diff: () => import('shiki/langs/diff.mjs'),
  dockerfile: () => import('shiki/langs/dockerfile.mjs'),
  go: () => import('shiki/langs/go.mjs'),
  html: () => import('shiki/langs/html.mjs'),
  java: () => import('shiki/langs/java.mjs'),
  javascript: () => import('shiki/langs/javascript.mjs'),
  json: () => import('shiki/langs/json.mjs'),
  jsx: () => import('shiki/langs/jsx.mjs'),
  kotlin: () => import('shiki/langs/kotlin.mjs'),
  markdown: () => import('shiki/langs/markdown.mjs'),
  php: () => import('shiki/langs/php.mjs'),
  python: () => import('shiki/langs/python.mjs'),
  ruby: () => import('shiki/langs/ruby.mjs'),
  rust: () => import('shiki/langs/rust.mjs'),
  sql: () => import('shiki/langs/sql.mjs'),
  swift: () => import('shiki/langs/swift.mjs'),
  toml: () => import('shiki/langs/toml.mjs'),
  tsx: () => import('shiki/langs/tsx.mjs'),
  typescript: () => import('shiki/langs/typescript.mjs'),
  xml: () => import('shiki/langs/xml.mjs'),
  yaml: () => import('shiki/langs/yaml.mjs'),
}

const ALIASES: Record<string, string> = {
  'c#': 'csharp',
  'c++': 'cpp',
  cs: 'csharp',
  docker: 'dockerfile',
  golang: 'go',
  js: 'javascript',
  kt: 'kotlin',
  md: 'markdown',
  patch: 'diff',
  py: 'python',
  python3: 'python',
  rb: 'ruby',
  rs: 'rust',
  sh: 'bash',
  shell: 'bash',
  ts: 'typescript',
  yml: 'yaml',
  zsh: 'bash',
}

/** The grammar's name for a fence's info string (`Python`, `py`, `ts`), if one is known. */
export function grammarName(language: string): string | undefined {
  const name = language.trim().toLowerCase()
  const resolved = ALIASES[name] ?? name
  return Object.hasOwn(GRAMMARS, resolved) ? resolved : undefined
}

let highlighter: Promise<HighlighterCore> | undefined
const loaded = new Map<string, Promise<Tokenizer | undefined>>()

/** A tokenizer for the language, once its grammar is loaded; undefined for an unknown one. */
export function loadTokenizer(language: string): Promise<Tokenizer | undefined> {
  const name = grammarName(language)
  if (name === undefined) return Promise.resolve(undefined)
  let tokenizer = loaded.get(name)
  if (tokenizer === undefined) {
    tokenizer = loadGrammar(name).catch(() => undefined)
    loaded.set(name, tokenizer)
  }
  return tokenizer
}

async function loadGrammar(name: string): Promise<Tokenizer> {
  highlighter ??= createHighlighterCore({
    themes: [githubLight, githubDark],
    langs: [],
    // Grammars whose patterns JavaScript's RegExp cannot run lose those patterns, not the block.
    engine: createJavaScriptRegexEngine({ forgiving: true }),
  })
  const core = await highlighter
  await core.loadLanguage(await GRAMMARS[name]().then((module) => module.default))
  // The first run compiles the grammar's patterns, and Shiki's time limit per line (500 ms, a
  // guard against patterns that backtrack for ever) can cut it short on a slow machine: the
  // rest of the line comes back as one token of one colour. So the first run is thrown away.
  let warm = false
  return (code) => {
    if (!warm) tokenize(core, name, code)
    warm = true
    return tokenize(core, name, code)
  }
}

function tokenize(core: HighlighterCore, lang: string, code: string): CodeToken[][] {
  const { tokens } = core.codeToTokens(code, {
    lang,
    themes: { light: 'github-light', dark: 'github-dark' },
    defaultColor: false,
  })
  return tokens.map((line) =>
    line.map((token) => ({ content: token.content, style: token.htmlStyle ?? {} })),
  )
}
