import { cleanup, fireEvent, render, screen } from '@testing-library/react'
import { afterEach, describe, expect, it, vi } from 'vitest'
import ChatComposer from './ChatComposer.tsx'

afterEach(cleanup)

function setup(status: 'idle' | 'streaming' = 'idle') {
  const handlers = { onSend: vi.fn(), onStop: vi.fn(), onRegenerate: vi.fn() }
  render(<ChatComposer status={status} canRegenerate disabled={false} {...handlers} />)
  return { ...handlers, box: screen.getByLabelText('Your message') as HTMLTextAreaElement }
}

describe('ChatComposer', () => {
  it('sends with Enter and clears the box', () => {
    const { onSend, box } = setup()
    fireEvent.change(box, { target: { value: 'Hello' } })
    fireEvent.keyDown(box, { key: 'Enter' })
    expect(onSend).toHaveBeenCalledWith('Hello')
    expect(box.value).toBe('')
  })

  it('keeps Shift+Enter for a new line', () => {
    const { onSend, box } = setup()
    fireEvent.change(box, { target: { value: 'Hello' } })
    fireEvent.keyDown(box, { key: 'Enter', shiftKey: true })
    expect(onSend).not.toHaveBeenCalled()
  })

  it('offers Stop instead of Send while an answer streams', () => {
    const { onStop } = setup('streaming')
    expect(screen.queryByRole('button', { name: 'Send' })).toBeNull()
    expect(screen.queryByRole('button', { name: 'Regenerate' })).toBeNull()
    fireEvent.click(screen.getByRole('button', { name: 'Stop' }))
    expect(onStop).toHaveBeenCalled()
  })
})
