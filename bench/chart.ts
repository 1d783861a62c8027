/** A dependency-free SVG line chart: good enough for throughput-over-time in a README. */
export interface Series {
  name: string;
  points: [number, number][];
  color: string;
}

export function lineChartSvg(
  title: string,
  xLabel: string,
  yLabel: string,
  series: Series[],
  width = 720,
  height = 360,
): string {
  const pad = { l: 80, r: 20, t: 40, b: 50 };
  const all = series.flatMap((s) => s.points);
  const maxX = Math.max(1e-9, ...all.map((p) => p[0]));
  const maxY = Math.max(1e-9, ...all.map((p) => p[1])) * 1.05;
  const x = (v: number): number => pad.l + (v / maxX) * (width - pad.l - pad.r);
  const y = (v: number): number => height - pad.b - (v / maxY) * (height - pad.t - pad.b);
  const ticks = 5;
  const grid: string[] = [];
  for (let i = 0; i <= ticks; i++) {
    const vy = (maxY / ticks) * i;
    const vx = (maxX / ticks) * i;
    grid.push(`<line x1="${pad.l}" x2="${width - pad.r}" y1="${y(vy)}" y2="${y(vy)}" stroke="#eee"/>`);
    grid.push(`<text x="${pad.l - 6}" y="${y(vy) + 4}" font-size="11" text-anchor="end">${fmt(vy)}</text>`);
    grid.push(`<text x="${x(vx)}" y="${height - pad.b + 16}" font-size="11" text-anchor="middle">${fmt(vx)}</text>`);
  }
  const lines = series.map(
    (s) =>
      `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${s.points.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ')}"/>`,
  );
  const legend = series.map(
    (s, i) =>
      `<rect x="${pad.l + 10}" y="${pad.t + 6 + i * 16}" width="10" height="10" fill="${s.color}"/><text x="${pad.l + 26}" y="${pad.t + 15 + i * 16}" font-size="12">${esc(s.name)}</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${width / 2}" y="22" font-size="15" text-anchor="middle">${esc(title)}</text>
${grid.join('\n')}
<line x1="${pad.l}" x2="${pad.l}" y1="${pad.t}" y2="${height - pad.b}" stroke="#333"/>
<line x1="${pad.l}" x2="${width - pad.r}" y1="${height - pad.b}" y2="${height - pad.b}" stroke="#333"/>
<text x="${width / 2}" y="${height - 10}" font-size="12" text-anchor="middle">${esc(xLabel)}</text>
<text x="16" y="${height / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 16 ${height / 2})">${esc(yLabel)}</text>
${lines.join('\n')}
${legend.join('\n')}
</svg>
`;
}

function fmt(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(0)}k`;
  return v >= 10 ? v.toFixed(0) : v.toFixed(1);
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
}
