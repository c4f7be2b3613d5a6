/**
 * Geometry of the error-vs-step chart (ErrorChart.tsx draws it as SVG): scales, "nice" ticks, decade ticks
 * on a log axis, and one SVG path per series. Pure numbers in, numbers and strings out, so it is tested
 * without a DOM. On a log axis, values <= 0 (or not finite) cannot be placed: they are counted, not drawn,
 * and the line breaks there.
 */

export interface ChartPoint {
  x: number;
  y: number;
}

export interface ErrorSeries {
  label: string;
  points: readonly ChartPoint[];
  /** CSS colour; default from a fixed palette. */
  color?: string;
}

export interface ChartLayoutOptions {
  width: number;
  height: number;
  logX?: boolean;
  logY?: boolean;
  /** Space for tick labels and axis titles, in px. */
  margin?: { top: number; right: number; bottom: number; left: number };
  /** Rough number of ticks on a linear axis (default 5). */
  targetTicks?: number;
}

export interface Tick {
  value: number;
  /** Pixel position along the axis (x for the x axis, y for the y axis). */
  pos: number;
  label: string;
}

export interface SeriesLayout {
  label: string;
  color: string;
  /** SVG path data ('' when nothing can be drawn). */
  path: string;
  markers: { x: number; y: number; value: ChartPoint }[];
  /** Points left out: not finite, or <= 0 on a log axis. */
  dropped: number;
}

export interface ChartLayout {
  plot: { left: number; top: number; width: number; height: number };
  xDomain: [number, number];
  yDomain: [number, number];
  xTicks: Tick[];
  yTicks: Tick[];
  series: SeriesLayout[];
  dropped: number;
  /** No drawable point at all. */
  empty: boolean;
}

/** Colour-blind-friendly default palette (Okabe-Ito). */
export const SERIES_PALETTE = ['#e69f00', '#56b4e9', '#009e73', '#f0e442', '#0072b2', '#d55e00', '#cc79a7', '#999999'];

const DEFAULT_MARGIN = { top: 12, right: 16, bottom: 40, left: 56 };

export function layoutErrorChart(series: readonly ErrorSeries[], options: ChartLayoutOptions): ChartLayout {
  const margin = options.margin ?? DEFAULT_MARGIN;
  const plot = {
    left: margin.left,
    top: margin.top,
    width: Math.max(1, options.width - margin.left - margin.right),
    height: Math.max(1, options.height - margin.top - margin.bottom),
  };
  const logX = options.logX ?? false;
  const logY = options.logY ?? false;
  const usable = (p: ChartPoint) =>
    Number.isFinite(p.x) && Number.isFinite(p.y) && (!logX || p.x > 0) && (!logY || p.y > 0);

  const xs: number[] = [];
  const ys: number[] = [];
  for (const s of series) for (const p of s.points) if (usable(p)) (xs.push(p.x), ys.push(p.y));
  const empty = xs.length === 0;
  const target = options.targetTicks ?? 5;
  const xAxis = logX ? logAxis(xs) : linearAxis(xs, target);
  const yAxis = logY ? logAxis(ys) : linearAxis(ys, target);

  const toUnit = (v: number, axis: Axis) =>
    axis.log
      ? (Math.log10(v) - Math.log10(axis.domain[0])) / (Math.log10(axis.domain[1]) - Math.log10(axis.domain[0]))
      : (v - axis.domain[0]) / (axis.domain[1] - axis.domain[0]);
  const px = (v: number) => plot.left + toUnit(v, xAxis) * plot.width;
  const py = (v: number) => plot.top + (1 - toUnit(v, yAxis)) * plot.height;

  let dropped = 0;
  const laid = series.map((s, i): SeriesLayout => {
    const sorted = [...s.points].sort((a, b) => a.x - b.x);
    let path = '';
    let penDown = false;
    let seriesDropped = 0;
    const markers: SeriesLayout['markers'] = [];
    for (const p of sorted) {
      if (!usable(p)) {
        seriesDropped++;
        penDown = false; // a gap, not a line across the missing value
        continue;
      }
      const x = px(p.x);
      const y = py(p.y);
      path += `${penDown ? 'L' : 'M'}${fmt(x)},${fmt(y)}`;
      penDown = true;
      markers.push({ x, y, value: p });
    }
    dropped += seriesDropped;
    return { label: s.label, color: s.color ?? SERIES_PALETTE[i % SERIES_PALETTE.length], path, markers, dropped: seriesDropped };
  });

  return {
    plot,
    xDomain: xAxis.domain,
    yDomain: yAxis.domain,
    xTicks: xAxis.ticks.map((value) => ({ value, pos: px(value), label: formatTick(value, xAxis) })),
    yTicks: yAxis.ticks.map((value) => ({ value, pos: py(value), label: formatTick(value, yAxis) })),
    series: laid,
    dropped,
    empty,
  };
}

interface Axis {
  log: boolean;
  domain: [number, number];
  ticks: number[];
  /** Linear tick spacing (for label precision). */
  step: number;
}

/** Nice step (1, 2 or 5 times a power of ten) close to span / target. */
export function niceStep(span: number, target: number): number {
  const raw = span / Math.max(1, target);
  const power = 10 ** Math.floor(Math.log10(raw));
  const f = raw / power;
  const nice = f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10;
  return nice * power;
}

function linearAxis(values: number[], target: number): Axis {
  let lo = values.length ? Math.min(...values) : 0;
  let hi = values.length ? Math.max(...values) : 1;
  if (hi === lo) {
    const pad = Math.abs(lo) * 0.1 || 1;
    lo -= pad;
    hi += pad;
  }
  const step = niceStep(hi - lo, target);
  const start = Math.floor(lo / step + 1e-9) * step;
  const end = Math.ceil(hi / step - 1e-9) * step;
  const ticks: number[] = [];
  const count = Math.round((end - start) / step);
  for (let i = 0; i <= count; i++) ticks.push(cleanFloat(start + i * step, step));
  return { log: false, domain: [start, end], ticks, step };
}

/** Whole decades around the data; every decade is a tick (every n-th past 8 decades). */
function logAxis(values: number[]): Axis {
  let lo = values.length ? Math.floor(Math.log10(Math.min(...values)) + 1e-12) : 0;
  let hi = values.length ? Math.ceil(Math.log10(Math.max(...values)) - 1e-12) : 1;
  if (hi <= lo) hi = lo + 1;
  const every = Math.ceil((hi - lo) / 8);
  const ticks: number[] = [];
  for (let e = lo; e <= hi; e += every) ticks.push(decade(e));
  if (every > 1 && (hi - lo) % every !== 0) {
    hi = lo + Math.ceil((hi - lo) / every) * every; // end on a tick
    ticks.push(decade(hi));
  }
  return { log: true, domain: [decade(lo), decade(hi)], ticks, step: 0 };
}

/** 10^e without the float noise of 10 ** -3 = 0.0010000000000000002. */
function decade(e: number): number {
  return Number(`1e${e}`);
}

function cleanFloat(v: number, step: number): number {
  const digits = Math.max(0, -Math.floor(Math.log10(step)) + 1);
  return Number(v.toFixed(Math.min(20, digits)));
}

export function formatTick(value: number, axis: { log: boolean; step: number }): string {
  if (value === 0) return '0';
  if (axis.log) {
    const e = Math.round(Math.log10(value));
    return e >= -2 && e <= 3 ? String(decade(e)) : `1e${e}`;
  }
  const abs = Math.abs(value);
  if (abs >= 1e5 || abs < 1e-4) return value.toExponential(1);
  const digits = Math.max(0, -Math.floor(Math.log10(axis.step) + 1e-9));
  return value.toFixed(Math.min(10, digits));
}

function fmt(v: number): string {
  return (Math.round(v * 100) / 100).toString();
}

/**
 * Series from a METRICS value's per-step series (e.g. { series: { euler: [...], heun: [...] } }):
 * x is the step index unless `x` gives the abscissae (e.g. NFE counts).
 */
export function seriesFromMetrics(
  metrics: { series?: Record<string, readonly number[]> },
  x?: Record<string, readonly number[]> | readonly number[],
): ErrorSeries[] {
  return Object.entries(metrics.series ?? {}).map(([label, ys]) => {
    const xs = Array.isArray(x) ? x : (x as Record<string, readonly number[]> | undefined)?.[label];
    return { label, points: ys.map((y, i) => ({ x: xs?.[i] ?? i, y })) };
  });
}
