import { h, s } from './dom';
import { shortMonth } from './format';

/**
 * Hand-made SVG charts: axes with rounded ticks, month names on the x axis, and a
 * <title> on every mark so hovering shows the exact figure. A series the caller may
 * not see draws no marks and says so.
 */

const W = 960;
const H = 300;
const M = { top: 16, right: 16, bottom: 36, left: 76 };
const innerW = W - M.left - M.right;
const innerH = H - M.top - M.bottom;

/** Rounded tick values covering min..max (min <= 0 <= max is not required). */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (min === max) {
    const pad = Math.abs(max) || 1;
    min -= pad;
    max += pad;
  }
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * magnitude).find((st) => st >= raw) ?? 10 * magnitude;
  const ticks: number[] = [];
  for (let t = Math.floor(min / step) * step; t <= max + step * 1e-9; t += step) ticks.push(Math.round(t / step) * step);
  if (ticks[ticks.length - 1]! < max) ticks.push(ticks[ticks.length - 1]! + step);
  return ticks;
}

function frame(label: string, ...children: (SVGElement | null)[]): SVGSVGElement {
  return s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': label }, ...children);
}

/** Placeholder where a chart of a hidden (or empty) series would be. */
export function chartNotice(text: string, kind: 'hidden' | 'empty'): HTMLElement {
  return h('div', { class: `chart-notice ${kind}` }, kind === 'hidden' ? lockIcon() : null, h('span', {}, text));
}

/** A padlock drawn in SVG (no emoji font needed). */
export function lockIcon(): SVGSVGElement {
  return s('svg', { viewBox: '0 0 24 24', class: 'lock', 'aria-hidden': 'true' }, s('rect', { x: 5, y: 11, width: 14, height: 10, rx: 2 }), s('path', { d: 'M8 11V7a4 4 0 0 1 8 0v4' }));
}

function yAxis(ticks: number[], y: (v: number) => number, format: (n: number) => string): SVGGElement {
  return s(
    'g',
    { class: 'axis y' },
    ticks.map((t) =>
      s('g', {}, s('line', { x1: M.left, x2: W - M.right, y1: y(t), y2: y(t), class: t === 0 ? 'zero' : 'grid' }), s('text', { x: M.left - 8, y: y(t) + 4, 'text-anchor': 'end' }, format(t))),
    ),
  );
}

function xAxis(periods: string[], x: (i: number) => number): SVGGElement {
  // At most ~12 labels; the year shows on the first label and wherever it changes.
  const every = Math.max(1, Math.ceil(periods.length / 12));
  let year = '';
  return s(
    'g',
    { class: 'axis x' },
    periods.map((p, i) => {
      if (i % every !== 0) return null;
      const newYear = p.slice(0, 4) !== year;
      year = p.slice(0, 4);
      return s('text', { x: x(i), y: H - M.bottom + 20, 'text-anchor': 'middle' }, shortMonth(p, newYear));
    }),
  );
}

export interface LineChartOptions {
  label: string;
  periods: string[];
  values: (number | null)[];
  /** Full figure for hover titles. */
  format: (n: number) => string;
  /** Short figure for the axis. */
  axisFormat: (n: number) => string;
  className?: string;
}

export function lineChart(o: LineChartOptions): SVGSVGElement {
  const known = o.values.filter((v): v is number => v !== null);
  const ticks = niceTicks(Math.min(0, ...known), Math.max(0, ...known));
  const lo = ticks[0]!;
  const hi = ticks[ticks.length - 1]!;
  const x = (i: number) => M.left + (o.periods.length <= 1 ? innerW / 2 : (i * innerW) / (o.periods.length - 1));
  const y = (v: number) => M.top + innerH - ((v - lo) / (hi - lo)) * innerH;
  const pts = o.values.map((v, i) => (v === null ? null : ([x(i), y(v)] as const)));
  const drawn = pts.filter((p): p is readonly [number, number] => p !== null);
  const line = drawn.map(([px, py], i) => `${i ? 'L' : 'M'}${px.toFixed(1)},${py.toFixed(1)}`).join('');
  const area = drawn.length ? `${line}L${drawn[drawn.length - 1]![0].toFixed(1)},${y(Math.max(lo, 0)).toFixed(1)}L${drawn[0]![0].toFixed(1)},${y(Math.max(lo, 0)).toFixed(1)}Z` : '';
  return frame(
    o.label,
    yAxis(ticks, y, o.axisFormat),
    xAxis(o.periods, x),
    s('path', { d: area, class: `area ${o.className ?? ''}` }),
    s('path', { d: line, class: `line ${o.className ?? ''}` }),
    s(
      'g',
      { class: 'points' },
      pts.map((p, i) => (p ? s('circle', { cx: p[0], cy: p[1], r: 4, class: o.className ?? '' }, s('title', {}, `${shortMonth(o.periods[i]!, true)}: ${o.format(o.values[i]!)}`)) : null)),
    ),
  );
}

export interface BarSeries {
  key: string;
  label: string;
  /** Drawn below the zero line (losses). */
  negative: boolean;
  values: number[];
}

/** Gains stacked above zero, losses below, one column per period. */
export function stackedBars(o: { label: string; periods: string[]; series: BarSeries[]; format: (n: number) => string; axisFormat: (n: number) => string }): SVGSVGElement {
  const up = o.periods.map((_, i) => o.series.filter((se) => !se.negative).reduce((sum, se) => sum + Math.abs(se.values[i] ?? 0), 0));
  const down = o.periods.map((_, i) => o.series.filter((se) => se.negative).reduce((sum, se) => sum + Math.abs(se.values[i] ?? 0), 0));
  const ticks = niceTicks(-Math.max(0, ...down), Math.max(0, ...up));
  const lo = ticks[0]!;
  const hi = ticks[ticks.length - 1]!;
  const band = innerW / Math.max(1, o.periods.length);
  const barW = Math.min(36, band * 0.64);
  const x = (i: number) => M.left + band * i + band / 2;
  const y = (v: number) => M.top + innerH - ((v - lo) / (hi - lo)) * innerH;
  const bars: SVGElement[] = [];
  o.periods.forEach((p, i) => {
    let top = 0;
    let bottom = 0;
    for (const se of o.series) {
      const v = Math.abs(se.values[i] ?? 0);
      if (v === 0) continue;
      const from = se.negative ? bottom : top;
      const to = se.negative ? bottom - v : top + v;
      if (se.negative) bottom = to;
      else top = to;
      bars.push(
        s(
          'rect',
          { x: x(i) - barW / 2, y: Math.min(y(from), y(to)), width: barW, height: Math.max(1, Math.abs(y(from) - y(to))), class: `bar ${se.key}` },
          s('title', {}, `${shortMonth(p, true)} · ${se.label}: ${o.format(se.negative ? -v : v)}`),
        ),
      );
    }
  });
  return frame(o.label, yAxis(ticks, y, o.axisFormat), xAxis(o.periods, x), s('g', { class: 'bars' }, bars));
}

export function legend(items: { key: string; label: string }[]): HTMLElement {
  return h('ul', { class: 'legend' }, items.map((it) => h('li', {}, h('span', { class: `swatch ${it.key}` }), it.label)));
}

/** A bar per step for rates 0..1 (recovery per dunning step). */
export function rateBars(o: { label: string; categories: string[]; rates: (number | null)[]; titles: string[] }): SVGSVGElement {
  const band = innerW / Math.max(1, o.categories.length);
  const barW = Math.min(56, band * 0.6);
  const x = (i: number) => M.left + band * i + band / 2;
  const y = (v: number) => M.top + innerH - v * innerH;
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  return frame(
    o.label,
    yAxis(ticks, y, (t) => `${Math.round(t * 100)}%`),
    s('g', { class: 'axis x' }, o.categories.map((c, i) => s('text', { x: x(i), y: H - M.bottom + 20, 'text-anchor': 'middle' }, c))),
    s(
      'g',
      { class: 'bars' },
      o.rates.map((r, i) => (r === null ? null : s('rect', { x: x(i) - barW / 2, y: y(r), width: barW, height: Math.max(1, y(0) - y(r)), class: 'bar rate' }, s('title', {}, o.titles[i] ?? '')))),
    ),
  );
}
