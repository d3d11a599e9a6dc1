// Prints the size of every file the production build emits in dist/assets, raw and gzipped
// (zlib at its default level; Vite's own gzip figure differs by about 1%), and the total per
// kind: the numbers kept in docs/benchmarks.md. Run after `vite build`; `npm run build` does.
import { readdirSync, readFileSync } from 'node:fs'
import { extname, join } from 'node:path'
import { gzipSync } from 'node:zlib'

const assets = new URL('../dist/assets/', import.meta.url)
const kilobytes = (bytes) => `${(bytes / 1000).toFixed(2)} kB`

const rows = readdirSync(assets)
  .sort()
  .map((name) => {
    const content = readFileSync(join(assets.pathname, name))
    return {
      name,
      kind: extname(name).slice(1),
      raw: content.length,
      gzip: gzipSync(content).length,
    }
  })

const totals = new Map()
for (const row of rows) {
  const total = totals.get(row.kind) ?? { raw: 0, gzip: 0 }
  totals.set(row.kind, { raw: total.raw + row.raw, gzip: total.gzip + row.gzip })
}

const width = Math.max(...rows.map((row) => row.name.length), 10)
console.log(`\nbundle size (dist/assets)`)
for (const row of rows) {
  console.log(
    `  ${row.name.padEnd(width)}  ${kilobytes(row.raw).padStart(11)}  gzip ${kilobytes(row.gzip).padStart(10)}`,
  )
}
for (const [kind, total] of totals) {
  console.log(
    `  ${`total ${kind}`.padEnd(width)}  ${kilobytes(total.raw).padStart(11)}  gzip ${kilobytes(total.gzip).padStart(10)}`,
  )
}
