import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

// The last 24 h by hour: successes and failures (bars), the mean and the
// largest latency (lines), from the activity answer's stats (hourly
// counters the dispatcher keeps: every attempt, not only the last 10).
export function series(stats) {
  const xs = [], ok = [], bad = [], mean = [], most = [];
  for (const b of stats || []) {
    const n = b.successes + b.failures;
    xs.push(b.hour);
    ok.push(b.successes);
    bad.push(b.failures);
    mean.push(n ? Math.round(b.duration_sum_ms / n) : null);
    most.push(n ? b.duration_max_ms : null);
  }
  return [xs, ok, bad, mean, most];
}

export function Chart({ stats }) {
  const el = useRef(null);
  const data = series(stats);
  const total = data[1].reduce((s, v) => s + v, 0) + data[2].reduce((s, v) => s + v, 0);
  useEffect(() => {
    if (!el.current) return;
    const width = Math.max(280, Math.min(el.current.clientWidth || 600, 900));
    const bars = uPlot.paths.bars({ size: [0.6, 40] });
    const plot = new uPlot({
      width, height: 200,
      series: [
        {},
        { label: 'successes', stroke: '#0a7a2f', fill: 'rgba(10,122,47,0.35)', paths: bars, scale: 'n' },
        { label: 'failures', stroke: '#b3261e', fill: 'rgba(179,38,30,0.35)', paths: bars, scale: 'n' },
        { label: 'mean ms', stroke: '#1f5fbf', width: 2, scale: 'ms', spanGaps: true },
        { label: 'max ms', stroke: '#7a4fbf', width: 1, dash: [4, 4], scale: 'ms', spanGaps: true },
      ],
      axes: [{}, { scale: 'n', label: 'attempts' }, { scale: 'ms', side: 1, label: 'ms', grid: { show: false } }],
      scales: { n: { range: (u, min, max) => [0, Math.max(1, max)] } },
    }, data, el.current);
    return () => plot.destroy();
  }, [stats]);
  return (
    <figure>
      <div id="chart" ref={el} role="img" data-total={total} aria-label={`Attempts per hour over the last 24 hours (${total} in all): successes, failures, mean and largest latency`} />
      <figcaption><small>Last 24 h by hour: {total} attempt{total === 1 ? '' : 's'} in all.</small></figcaption>
    </figure>
  );
}
