/** A named line on a chart: `[step, value]` points. */
export interface Series {
  name: string;
  points: [number, number][];
  /** a shaded band around the line, `[step, low, high]` (e.g. a confidence interval) */
  band?: [number, number, number][];
}

const COLORS = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
];

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * About `count` round tick values covering [lo, hi]: steps of 1, 2 or 5 times a
 * power of ten, so the labels read as plain numbers.
 */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  // the small epsilon keeps a tick that lands on hi despite float rounding
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step)
    out.push(Number(t.toPrecision(12)));
  return out;
}

function fmt(v: number): string {
  return Math.abs(v) >= 1e5 || (Math.abs(v) < 1e-3 && v !== 0)
    ? v.toExponential(1)
    : Number(v.toPrecision(4)).toString();
}

// Legend text is 11px system-ui: about 6.3px a character, plus the swatch and a gap.
const CHAR_PX = 6.3;
const SWATCH_PX = 16;
const ROW_PX = 15;

/** Legend items flowed into rows no wider than `width`: each row a list of `[x, index]`. */
function legendRows(names: string[], width: number): [number, number][][] {
  const rows: [number, number][][] = [[]];
  let x = 0;
  names.forEach((name, i) => {
    const w = SWATCH_PX + name.length * CHAR_PX + 14;
    if (x > 0 && x + w > width) {
      rows.push([]);
      x = 0;
    }
    rows.at(-1)!.push([x, i]);
    x += w;
  });
  return rows;
}

/**
 * An inline SVG line chart: title, then the legend on rows of its own below it (so
 * it never overprints the title and wraps instead of running off the edge), then
 * the plot with gridlines at round ticks, a `step` x axis and a labelled y axis.
 * Non-finite points are skipped; a series with few points gets a dot on each, so a
 * validation curve of a handful of points (or one) is visible.
 */
export function lineChart(
  title: string,
  series: Series[],
  options: { width?: number; plotHeight?: number; yLabel?: string } = {},
): string {
  const width = options.width ?? 460;
  const plotHeight = options.plotHeight ?? 180;
  const pts = series
    .flatMap((s) => [
      ...s.points,
      ...(s.band ?? []).flatMap(([x, lo, hi]): [number, number][] => [
        [x, lo],
        [x, hi],
      ]),
    ])
    .filter(([, y]) => Number.isFinite(y));
  if (pts.length === 0) return '';
  const pad = { l: 62, r: 14 };
  const rows = legendRows(
    series.map((s) => s.name),
    width - pad.l - pad.r,
  );
  const top = 24 + rows.length * ROW_PX + 8;
  const bottom = top + plotHeight;
  const height = bottom + 36;

  let [xmin, xmax] = [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))];
  let [ymin, ymax] = [Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1]))];
  if (xmax === xmin) [xmin, xmax] = [xmin - 1, xmax + 1];
  if (ymax === ymin)
    [ymin, ymax] = [ymin - Math.abs(ymin || 1) * 0.1, ymax + Math.abs(ymax || 1) * 0.1];
  const sx = (x: number) => pad.l + ((x - xmin) / (xmax - xmin)) * (width - pad.l - pad.r);
  const sy = (y: number) => bottom - ((y - ymin) / (ymax - ymin)) * plotHeight;

  const grid: string[] = [];
  for (const t of niceTicks(ymin, ymax)) {
    const y = sy(t).toFixed(1);
    grid.push(
      `<line x1="${pad.l}" y1="${y}" x2="${width - pad.r}" y2="${y}" stroke="#e6e6e6"/>`,
      `<text x="${pad.l - 5}" y="${y}" dy="3.5" font-size="10" text-anchor="end" fill="#555">${fmt(t)}</text>`,
    );
  }
  for (const t of niceTicks(xmin, xmax, 6).filter((t) => Number.isInteger(t) || xmax - xmin < 6)) {
    const x = sx(t).toFixed(1);
    grid.push(
      `<line x1="${x}" y1="${top}" x2="${x}" y2="${bottom}" stroke="#e6e6e6"/>`,
      `<text x="${x}" y="${bottom + 13}" font-size="10" text-anchor="middle" fill="#555">${fmt(t)}</text>`,
    );
  }
  const lines = series
    .map((s, i) => {
      const color = COLORS[i % COLORS.length];
      const finite = s.points.filter(([, y]) => Number.isFinite(y));
      const p = finite.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`);
      const dots =
        finite.length <= 30
          ? finite
              .map(
                ([x, y]) =>
                  `<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="2.5" fill="${color}"/>`,
              )
              .join('')
          : '';
      const band = (s.band ?? []).filter(
        ([, lo, hi]) => Number.isFinite(lo) && Number.isFinite(hi),
      );
      // the band's upper edge left to right, then its lower edge back
      const shade =
        band.length > 0
          ? `<polygon fill="${color}" fill-opacity="0.18" stroke="none" points="${[
              ...band.map(([x, , hi]) => `${sx(x).toFixed(1)},${sy(hi).toFixed(1)}`),
              ...band
                .slice()
                .reverse()
                .map(([x, lo]) => `${sx(x).toFixed(1)},${sy(lo).toFixed(1)}`),
            ].join(' ')}"/>`
          : '';
      return `${shade}<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${p.join(' ')}"><title>${escapeHtml(s.name)}</title></polyline>${dots}`;
    })
    .join('');
  const legend = rows
    .flatMap((row, r) =>
      row.map(([x, i]) => {
        const y = 24 + r * ROW_PX + 10;
        const color = COLORS[i % COLORS.length];
        return `<rect x="${pad.l + x}" y="${y - 8}" width="10" height="10" fill="${color}"/><text x="${pad.l + x + SWATCH_PX}" y="${y}" font-size="11">${escapeHtml(series[i]!.name)}</text>`;
      }),
    )
    .join('');
  const yLabel = options.yLabel ?? title;
  const midY = ((top + bottom) / 2).toFixed(1);
  return `<svg width="${width}" height="${height}" role="img" aria-label="${escapeHtml(title)}" font-family="system-ui,sans-serif">
<text x="${pad.l}" y="16" font-size="13" font-weight="bold">${escapeHtml(title)}</text>
${legend}
${grid.join('\n')}
<line x1="${pad.l}" y1="${bottom}" x2="${width - pad.r}" y2="${bottom}" stroke="#888"/>
<line x1="${pad.l}" y1="${top}" x2="${pad.l}" y2="${bottom}" stroke="#888"/>
<text x="${((pad.l + width - pad.r) / 2).toFixed(1)}" y="${bottom + 30}" font-size="11" text-anchor="middle">step</text>
<text x="14" y="${midY}" font-size="11" text-anchor="middle" transform="rotate(-90 14 ${midY})">${escapeHtml(yLabel)}</text>
${lines}</svg>`;
}
