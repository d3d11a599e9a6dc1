/**
 * Random ids for conversations, messages and idempotency keys. `crypto.randomUUID` exists only
 * in secure contexts (an edge on a LAN address over http is not one); `getRandomValues` works
 * everywhere.
 */
export function randomId(): string {
  const bytes = new Uint8Array(16)
  crypto.getRandomValues(bytes)
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')
}
