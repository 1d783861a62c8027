import { lineChartSvg } from '../../../bench/chart.js';
import { quantile, add, type Buckets } from './histogram-window.js';
import type { Fault, SoakSample } from './verdict.js';

/** Three panels, one per measure (their scales differ), stacked in one SVG; x = minutes. */
export function soakChartSvg(samples: readonly SoakSample[], faults: readonly Fault[], title: string): string {
  const minutes = (s: SoakSample): number => s.t / 60;
  // A flush p99 per second is noisy (a handful of flushes); over the last 10 s it reads.
  const p99: [number, number][] = [];
  for (let i = 0; i < samples.length; i++) {
    let h: Buckets | undefined;
    for (let j = Math.max(0, i - 9); j <= i; j++) h = add(h, samples[j]!.flush);
    const v = h === undefined ? NaN : quantile(0.99, h) * 1000;
    if (Number.isFinite(v)) p99.push([minutes(samples[i]!), v]);
  }
  // By kind, in minutes: the list has to fit the panel's title.
  const at = (kind: Fault['kind']): string =>
    faults
      .filter((f) => f.kind === kind)
      .map((f) => Number((f.t / 60).toFixed(1)))
      .join(' ');
  const faultText = `kill at ${at('kill')}, join at ${at('join')}, leave at ${at('leave')} (min)`;
  const panels = [
    lineChartSvg(`${title}: engine RSS`, 'minutes', 'MiB', [
      {
        name: 'RSS of the engine (restarted after each kill)',
        color: '#1f77b4',
        points: samples.map((s) => [minutes(s), s.rssMiB]),
      },
    ]),
    lineChartSvg(`lag; ${faultText}`, 'minutes', 'events', [
      {
        name: 'lag: in the topic, not committed in Postgres',
        color: '#d62728',
        points: samples.map((s) => [minutes(s), s.lag]),
      },
    ]),
    lineChartSvg('flush p99 (last 10 s)', 'minutes', 'ms', [{ name: 'flush p99', color: '#2ca02c', points: p99 }]),
  ];
  const height = 360;
  const inner = panels.map((svg, i) =>
    svg.replace('<svg xmlns="http://www.w3.org/2000/svg"', `<svg x="0" y="${i * height}"`),
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="720" height="${height * panels.length}">\n${inner.join('\n')}</svg>\n`;
}
