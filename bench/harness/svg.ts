/**
 * The HTML report's charts as inline SVG strings: horizontal bars with a min–max whisker, dots
 * for latency percentiles, and points with fitted lines for the size sweep. Hand-made because
 * the report must be one self-contained file, and the three shapes need a page of code, not a
 * charting library and its runtime.
 */

export const colours = { mode: '#2b6cb0', static: '#2f855a', peer: '#b83280', grid: '#e2e8f0', axis: '#4a5568', text: '#1a202c' };

/**
 * One colour per process model, the same in every chart (and in the size sweep): a reader
 * follows CGI across the page by its colour. Peers share one hue: they are the comparison.
 */
export const targetColours: Record<string, string> = {
  cgi: '#c05621',
  'cgi-fork': '#ed8936',
  fastcgi: '#2b6cb0',
  embedded: '#6b46c1',
  static: colours.static,
};

/** A target's colour: its own for webhist's modes, the peers' hue for the rest. */
export function colourOf(target: { kind: string; name: string }): string {
  return target.kind === 'peer' ? colours.peer : (targetColours[target.name] ?? colours.mode);
}

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

interface Scale {
  at(value: number): number;
  ticks: number[];
}

/** Round ticks (1, 2 or 5 × 10^n) from 0 to past `max`, mapped onto [x0, x1]. */
function linear(max: number, x0: number, x1: number): Scale {
  const rough = (max || 1) / 5;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough)!;
  const top = Math.ceil((max || 1) / step) * step;
  const ticks = Array.from({ length: Math.round(top / step) + 1 }, (_, i) => i * step);
  return { at: (v) => x0 + (v / top) * (x1 - x0), ticks };
}

/** Powers of ten covering [min, max], mapped onto [x0, x1]: for measures that span decades. */
function logarithmic(min: number, max: number, x0: number, x1: number): Scale {
  const lo = Math.floor(Math.log10(Math.max(min, 1e-6)));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(max, 1e-6))));
  const ticks = Array.from({ length: hi - lo + 1 }, (_, i) => 10 ** (lo + i));
  return { at: (v) => x0 + ((Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo)) * (x1 - x0), ticks };
}

const row = 22;

/**
 * Room for the longest label at 12px (about 6.6px a character, measured in Chromium for
 * system-ui), so no label is clipped; the plot keeps 420px whatever the labels need.
 */
function layout(labels: string[]): { width: number; labelWidth: number; plotRight: number } {
  const labelWidth = Math.max(120, Math.ceil(Math.max(0, ...labels.map((l) => l.length)) * 6.6) + 16);
  const plotRight = labelWidth + 420;
  return { width: plotRight + 90, labelWidth, plotRight };
}

function text(x: number, y: number, content: string, attrs = ''): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${escapeXml(content)}</text>`;
}

/** Tick labels: round numbers need no unit (the caption has it) and no trailing zeros. */
const tick = (v: number) => v.toLocaleString('en-US', { maximumSignificantDigits: 3 });

function axis(scale: Scale, top: number, bottom: number, caption: string, { labelWidth, plotRight }: ReturnType<typeof layout>): string {
  const lines = scale.ticks.map((t) => {
    const x = scale.at(t);
    return `<line x1="${x}" y1="${top}" x2="${x}" y2="${bottom}" stroke="${colours.grid}"/>${text(x, bottom + 14, tick(t), 'text-anchor="middle" class="tick"')}`;
  });
  return lines.join('') + text((labelWidth + plotRight) / 2, bottom + 30, caption, 'text-anchor="middle" class="caption"');
}

function svg(width: number, height: number, title: string, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeXml(title)}">${body}</svg>`;
}

export interface Bar {
  label: string;
  value: number;
  min?: number;
  max?: number;
  colour: string;
  /** Written after the bar, e.g. the formatted value. */
  note: string;
}

/** Horizontal bars from zero, each with its min–max across runs as a whisker. */
export function barChart(bars: Bar[], options: { title: string; caption: string; log?: boolean }): string {
  const box = layout(bars.map((b) => b.label));
  const { labelWidth, plotRight } = box;
  const top = 8;
  const bottom = top + bars.length * row;
  const hi = Math.max(...bars.map((b) => b.max ?? b.value));
  const lo = Math.min(...bars.map((b) => b.min ?? b.value));
  const scale = options.log ? logarithmic(lo, hi, labelWidth, plotRight) : linear(hi, labelWidth, plotRight);
  const base = options.log ? labelWidth : scale.at(0);
  const body = bars.map((b, i) => {
    const y = top + i * row;
    const whisker =
      b.min !== undefined && b.max !== undefined && b.max > b.min
        ? `<line x1="${scale.at(b.min)}" y1="${y + row / 2}" x2="${scale.at(b.max)}" y2="${y + row / 2}" stroke="${colours.axis}" stroke-width="1.5"/>`
        : '';
    return (
      text(labelWidth - 8, y + row / 2 + 4, b.label, 'text-anchor="end"') +
      `<rect x="${base}" y="${y + 3}" width="${Math.max(1, scale.at(b.value) - base)}" height="${row - 6}" fill="${b.colour}" opacity="0.85"/>` +
      whisker +
      text(Math.max(scale.at(b.value), scale.at(b.max ?? b.value)) + 6, y + row / 2 + 4, b.note, 'class="note"')
    );
  });
  return svg(box.width, bottom + 40, options.title, axis(scale, top, bottom, options.caption, box) + body.join(''));
}

export interface DotRow {
  label: string;
  dots: { name: string; value: number; colour: string }[];
}

/** Several values per row on one (logarithmic) axis, joined by a line: latency percentiles. */
export function dotChart(rows: DotRow[], options: { title: string; caption: string; show: (v: number) => string }): string {
  const box = layout(rows.map((r) => r.label));
  const { labelWidth, plotRight } = box;
  const top = 8;
  const bottom = top + rows.length * row;
  const values = rows.flatMap((r) => r.dots.map((d) => d.value));
  const scale = logarithmic(Math.min(...values), Math.max(...values), labelWidth, plotRight);
  const body = rows.map((r, i) => {
    const y = top + i * row + row / 2;
    const xs = r.dots.map((d) => scale.at(d.value));
    const span = `<line x1="${Math.min(...xs)}" y1="${y}" x2="${Math.max(...xs)}" y2="${y}" stroke="${colours.grid}" stroke-width="3"/>`;
    const dots = r.dots.map(
      (d) =>
        `<circle cx="${scale.at(d.value)}" cy="${y}" r="4.5" fill="${d.colour}"><title>${escapeXml(`${d.name} ${options.show(d.value)}`)}</title></circle>`,
    );
    return text(labelWidth - 8, y + 4, r.label, 'text-anchor="end"') + span + dots.join('');
  });
  const legend =
    rows[0]?.dots.map(
      (d, i) => `<circle cx="${plotRight + 14}" cy="${top + 8 + i * 16}" r="4.5" fill="${d.colour}"/>${text(plotRight + 24, top + 12 + i * 16, d.name)}`,
    ) ?? [];
  return svg(box.width, bottom + 40, options.title, axis(scale, top, bottom, options.caption, box) + body.join('') + legend.join(''));
}

export interface Series {
  label: string;
  colour: string;
  points: { x: number; y: number }[];
  line: { fixed: number; slope: number };
}

/**
 * One target's measured points and fitted line, on linear axes from zero. One small panel per
 * target, each with its own scale: on a shared axis, CGI's start-up cost flattens the rest.
 */
export function linePanel(s: Series, options: { xCaption: string; yCaption: string; show: (v: number) => string }): string {
  const [w, left, top, bottom] = [380, 56, 26, 200];
  const right = w - 16;
  const x = linear(Math.max(...s.points.map((p) => p.x)), left, right);
  const xEnd = x.ticks.at(-1)!;
  const yUp = linear(Math.max(...s.points.map((p) => p.y), s.line.fixed + s.line.slope * xEnd), 0, bottom - top);
  const y = (v: number) => bottom - yUp.at(v);
  const grid =
    x.ticks
      .map(
        (t) =>
          `<line x1="${x.at(t)}" y1="${top}" x2="${x.at(t)}" y2="${bottom}" stroke="${colours.grid}"/>${text(x.at(t), bottom + 14, tick(t), 'text-anchor="middle" class="tick"')}`,
      )
      .join('') +
    yUp.ticks
      .map(
        (t) =>
          `<line x1="${left}" y1="${y(t)}" x2="${right}" y2="${y(t)}" stroke="${colours.grid}"/>${text(left - 6, y(t) + 4, tick(t), 'text-anchor="end" class="tick"')}`,
      )
      .join('') +
    text((left + right) / 2, bottom + 30, options.xCaption, 'text-anchor="middle" class="caption"') +
    text(12, (top + bottom) / 2, options.yCaption, `text-anchor="middle" class="caption" transform="rotate(-90 12 ${(top + bottom) / 2})"`);
  // A line with a negative intercept would run below the axis: it is clipped to the plot.
  const id = `plot-${s.label.replace(/\W+/g, '-')}`;
  const clip = `<clipPath id="${id}"><rect x="${left}" y="${top}" width="${right - left}" height="${bottom - top}"/></clipPath>`;
  const fit = `<line clip-path="url(#${id})" x1="${x.at(0)}" y1="${y(s.line.fixed)}" x2="${x.at(xEnd)}" y2="${y(s.line.fixed + s.line.slope * xEnd)}" stroke="${s.colour}" stroke-width="1.5" stroke-dasharray="5 3"/>`;
  const dots = s.points
    .map((p) => `<circle cx="${x.at(p.x)}" cy="${y(p.y)}" r="4" fill="${s.colour}"><title>${escapeXml(`${p.x} KB: ${options.show(p.y)}`)}</title></circle>`)
    .join('');
  const title = text(left, 14, s.label, `font-weight="bold" fill="${s.colour}"`);
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${w} ${bottom + 40}" width="${w}" height="${bottom + 40}" role="img" aria-label="${escapeXml(s.label)}">${clip}${title}${grid}${fit}${dots}</svg>`;
}
