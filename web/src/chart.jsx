import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

// The last 24 h by hour: successes and failures (bars) and the mean
// latency (line), from the attempts the activity report returns.
export function buckets(attempts, now) {
  const hour = 3600e3;
  const end = Math.ceil(now / hour) * hour;
  const xs = [], ok = [], bad = [], lat = [];
  for (let i = 23; i >= 0; i--) {
    const from = end - (i + 1) * hour, to = end - i * hour;
    const inside = attempts.filter((a) => a.time >= from && a.time < to);
    xs.push(from / 1000);
    ok.push(inside.filter((a) => a.outcome === 'success').length);
    bad.push(inside.filter((a) => a.outcome !== 'success').length);
    lat.push(inside.length ? Math.round(inside.reduce((s, a) => s + a.duration_ms, 0) / inside.length) : null);
  }
  return [xs, ok, bad, lat];
}

export function Chart({ attempts }) {
  const el = useRef(null);
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
        { label: 'latency ms', stroke: '#1f5fbf', width: 2, scale: 'ms', spanGaps: true },
      ],
      axes: [{}, { scale: 'n', label: 'attempts' }, { scale: 'ms', side: 1, label: 'ms', grid: { show: false } }],
      scales: { n: { range: (u, min, max) => [0, Math.max(1, max)] } },
    }, buckets(attempts, Date.now()), el.current);
    return () => plot.destroy();
  }, [attempts]);
  return <figure><div id="chart" ref={el} role="img" aria-label="Attempts per hour over the last 24 hours: successes, failures and mean latency" /><figcaption><small>Last 24 h, from the attempts the activity report holds (its last 10).</small></figcaption></figure>;
}
