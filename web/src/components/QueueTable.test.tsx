import { cleanup, render, screen, within } from '@testing-library/react'
import { afterEach, describe, expect, it } from 'vitest'
import QueueTable, { USERS_SHOWN } from './QueueTable.tsx'

afterEach(cleanup)

const cells = (testId: string) =>
  within(screen.getByTestId(testId))
    .getAllByRole('cell')
    .map((cell) => cell.textContent)

describe('QueueTable', () => {
  it('lists the users with most waiting jobs first and sums the rest in one row', () => {
    const users = Array.from({ length: USERS_SHOWN + 5 }, (_, index) => ({
      user: `user-${index}`,
      interactive: 1,
      batch: index,
    }))
    render(
      <QueueTable pools={[{ pool: 'sim', interactive: 25, batch: 300, users, other_users: 0 }]} />,
    )

    const rows = within(screen.getByTestId('queue-sim')).getAllByRole('row')
    expect(rows).toHaveLength(USERS_SHOWN + 1)
    expect(within(rows[0]).getByRole('rowheader', { name: `user-${USERS_SHOWN + 4}` })).toBeTruthy()
    expect(rows[0].textContent).toContain('25 interactive, 300 batch')
    // The five with fewest waiting jobs: batch 0 to 4.
    expect(within(rows[USERS_SHOWN]).getByRole('rowheader').textContent).toBe('5 more users')
    expect(cells('queue-sim-rest')).toEqual(['5', '10'])
  })

  it('counts the users the server left out of its report in the rest', () => {
    const users = [{ user: 'alice', interactive: 0, batch: 90 }]
    const pool = { pool: 'sim', interactive: 9, batch: 95, users, other_users: 7 }
    render(<QueueTable pools={[pool]} />)
    expect(within(screen.getByTestId('queue-sim-rest')).getByRole('rowheader').textContent).toBe(
      '7 more users',
    )
    expect(cells('queue-sim-rest')).toEqual(['9', '5'])
  })

  it('says so when nothing waits', () => {
    render(
      <QueueTable pools={[{ pool: 'sim', interactive: 0, batch: 0, users: [], other_users: 0 }]} />,
    )
    expect(screen.getByText('No job is waiting.')).toBeTruthy()
  })
})
