import { describe, expect, it } from 'vitest'
import { defaultModel } from './models.ts'
import { model } from './testing/fakeApi.ts'

describe('defaultModel', () => {
  it('prefers the default pool when it has live workers', () => {
    expect(defaultModel([model('sim'), model('chat')], 'chat')).toBe('chat')
    expect(defaultModel([model('embed', 'embeddings'), model('chat')], 'embeddings')).toBe('embed')
  })

  it('falls back to a pool with live workers, then to any pool of the kind', () => {
    expect(defaultModel([model('chat', 'chat', 0), model('sim')], 'chat')).toBe('sim')
    expect(defaultModel([model('sim', 'chat', 0), model('chat', 'chat', 0)], 'chat')).toBe('chat')
    expect(defaultModel([model('embed', 'embeddings')], 'chat')).toBeNull()
  })
})
