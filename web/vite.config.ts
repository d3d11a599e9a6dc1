import react from '@vitejs/plugin-react'
import { defineConfig } from 'vitest/config'

// `npm run dev` serves the app on its own port; the API stays on the edge (`relayline up`).
const edge = process.env.RELAYLINE_EDGE_URL ?? 'http://127.0.0.1:8000'

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: Object.fromEntries(
      ['/v1', '/docs', '/openapi.json'].map((path) => [path, { target: edge, ws: true }]),
    ),
  },
  // Only unit tests: browser specs run under Playwright, never under vitest. `src/lib` knows
  // nothing of React or the DOM, so its tests run in plain Node (no jsdom to set up per file).
  test: {
    projects: [
      {
        extends: true,
        test: { name: 'lib', environment: 'node', include: ['src/lib/**/*.test.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'ui',
          environment: 'jsdom',
          include: ['src/**/*.test.ts', 'src/**/*.test.tsx'],
          exclude: ['src/lib/**'],
        },
      },
    ],
  },
})
