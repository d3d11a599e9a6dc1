import { queuedSeries, throughputSeries, type Sample } from '../lib/throughput.ts'

const WIDTH = 600
const HEIGHT = 140
const PADDING = 6

/** Newest point on the right; the line grows leftwards as samples arrive. */
function points(values: readonly number[], top: number, slots: number): string {
  const step = (WIDTH - 2 * PADDING) / Math.max(1, slots - 1)
  return values
    .map((value, index) => {
      const x = WIDTH - PADDING - (values.length - 1 - index) * step
      const y = HEIGHT - PADDING - (value / top) * (HEIGHT - 2 * PADDING)
      return `${x.toFixed(1)},${y.toFixed(1)}`
    })
    .join(' ')
}

/** Jobs ended per second and jobs waiting, over the last samples; drawn in SVG, no library. */
export default function ThroughputChart({
  samples,
  capacity = 60,
}: {
  samples: readonly Sample[]
  capacity?: number
}) {
  const rates = throughputSeries(samples)
  const queued = queuedSeries(samples).slice(1)
  const top = Math.max(1, ...rates, ...queued)
  const slots = Math.max(rates.length, capacity - 1, 2)
  const latest = rates.at(-1) ?? 0
  const summary = `Throughput ${latest.toFixed(1)} jobs per second; ${queued.at(-1) ?? 0} queued; scale up to ${top.toFixed(0)}.`
  return (
    <figure className="chart">
      <svg
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        role="img"
        aria-label={summary}
        preserveAspectRatio="none"
        data-testid="throughput-chart"
      >
        <line
          className="chart-axis"
          x1={0}
          y1={HEIGHT - PADDING}
          x2={WIDTH}
          y2={HEIGHT - PADDING}
        />
        {queued.length > 1 && (
          <polyline className="chart-queued" points={points(queued, top, slots)} />
        )}
        {rates.length > 1 && <polyline className="chart-rate" points={points(rates, top, slots)} />}
      </svg>
      <figcaption>
        <span className="legend legend-rate">jobs/s ended</span>
        <span className="legend legend-queued">queued</span>
        <span className="muted">last {samples.length} samples, every 2 s</span>
      </figcaption>
    </figure>
  )
}
