/**
 * Which link targets from a model's answer may become live links: absolute http(s) URLs only.
 * Anything else (`javascript:`, `data:`, relative paths into this app) keeps its words and loses
 * its target.
 */
export function safeHref(raw: string): string | undefined {
  try {
    const url = new URL(raw.trim())
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined
  } catch {
    return undefined
  }
}
