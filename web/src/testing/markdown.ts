import { waitFor } from '@testing-library/react'
import { expect } from 'vitest'

/** Waits until every Markdown on the page is rendered by the lazily loaded renderer. */
export async function markdownLoaded(): Promise<void> {
  await waitFor(() => expect(document.querySelector('.markdown[data-pending]')).toBeNull())
}
