/**
 * A tiny log-log line plot rasteriser for the solver report: panels with axes, decade ticks and labels,
 * one coloured polyline (with point markers) per series, and a legend; encoded with pngjs. Text uses a
 * built-in 5x7 bitmap font (upper-case letters, digits, a few symbols; lower case is drawn upper case).
 */
import { PNG } from 'pngjs';

export type Rgb = readonly [number, number, number];

export interface PlotSeries {
  name: string;
  color: Rgb;
  /** (x, y) points, both > 0 (non-positive or non-finite points are skipped). */
  points: readonly (readonly [number, number])[];
  /** Dashed line (e.g. stochastic solvers). */
  dashed?: boolean;
}

export interface PlotPanel {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly PlotSeries[];
}

/** Distinct colours for up to 20 series (tab20-like), reused cyclically beyond. */
export const PALETTE: readonly Rgb[] = [
  [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189], [140, 86, 75], [227, 119, 194],
  [127, 127, 127], [188, 189, 34], [23, 190, 207], [174, 199, 232], [255, 187, 120], [152, 223, 138], [255, 152, 150],
  [197, 176, 213], [196, 156, 148], [247, 182, 210], [199, 199, 199], [219, 219, 141], [158, 218, 229],
];

// 5x7 glyphs: 7 rows of 5 bits (MSB = leftmost column).
const FONT: Record<string, readonly number[]> = {
  ' ': [0, 0, 0, 0, 0, 0, 0],
  '0': [14, 17, 19, 21, 25, 17, 14], '1': [4, 12, 4, 4, 4, 4, 14], '2': [14, 17, 1, 2, 4, 8, 31], '3': [31, 2, 4, 2, 1, 17, 14],
  '4': [2, 6, 10, 18, 31, 2, 2], '5': [31, 16, 30, 1, 1, 17, 14], '6': [6, 8, 16, 30, 17, 17, 14], '7': [31, 1, 2, 4, 8, 8, 8],
  '8': [14, 17, 17, 14, 17, 17, 14], '9': [14, 17, 17, 15, 1, 2, 12],
  A: [14, 17, 17, 31, 17, 17, 17], B: [30, 17, 17, 30, 17, 17, 30], C: [14, 17, 16, 16, 16, 17, 14], D: [28, 18, 17, 17, 17, 18, 28],
  E: [31, 16, 16, 30, 16, 16, 31], F: [31, 16, 16, 30, 16, 16, 16], G: [14, 17, 16, 23, 17, 17, 15], H: [17, 17, 17, 31, 17, 17, 17],
  I: [14, 4, 4, 4, 4, 4, 14], J: [7, 2, 2, 2, 2, 18, 12], K: [17, 18, 20, 24, 20, 18, 17], L: [16, 16, 16, 16, 16, 16, 31],
  M: [17, 27, 21, 21, 17, 17, 17], N: [17, 17, 25, 21, 19, 17, 17], O: [14, 17, 17, 17, 17, 17, 14], P: [30, 17, 17, 30, 16, 16, 16],
  Q: [14, 17, 17, 17, 21, 18, 13], R: [30, 17, 17, 30, 20, 18, 17], S: [15, 16, 16, 14, 1, 1, 30], T: [31, 4, 4, 4, 4, 4, 4],
  U: [17, 17, 17, 17, 17, 17, 14], V: [17, 17, 17, 17, 17, 10, 4], W: [17, 17, 17, 21, 21, 21, 10], X: [17, 17, 10, 4, 10, 17, 17],
  Y: [17, 17, 10, 4, 4, 4, 4], Z: [31, 1, 2, 4, 8, 16, 31],
  '.': [0, 0, 0, 0, 0, 12, 12], ',': [0, 0, 0, 0, 12, 4, 8], '-': [0, 0, 0, 31, 0, 0, 0], '+': [0, 4, 4, 31, 4, 4, 0],
  '_': [0, 0, 0, 0, 0, 0, 31], '=': [0, 0, 31, 0, 31, 0, 0], '(': [2, 4, 8, 8, 8, 4, 2], ')': [8, 4, 2, 2, 2, 4, 8],
  '/': [1, 1, 2, 4, 8, 16, 16], ':': [0, 12, 12, 0, 12, 12, 0], '^': [4, 10, 17, 0, 0, 0, 0], '%': [24, 25, 2, 4, 8, 19, 3],
  '*': [0, 4, 21, 14, 21, 4, 0], '>': [8, 4, 2, 1, 2, 4, 8], '<': [2, 4, 8, 16, 8, 4, 2],
};
const GLYPH_W = 5;
const GLYPH_H = 7;

/** An RGBA canvas with the few drawing primitives the plot needs. */
export class Canvas {
  readonly png: PNG;

  constructor(
    readonly width: number,
    readonly height: number,
    background: Rgb = [255, 255, 255],
  ) {
    this.png = new PNG({ width, height });
    for (let i = 0; i < width * height; i++) {
      this.png.data[4 * i] = background[0];
      this.png.data[4 * i + 1] = background[1];
      this.png.data[4 * i + 2] = background[2];
      this.png.data[4 * i + 3] = 255;
    }
  }

  set(x: number, y: number, c: Rgb): void {
    const xi = Math.round(x);
    const yi = Math.round(y);
    if (xi < 0 || yi < 0 || xi >= this.width || yi >= this.height) return;
    const k = 4 * (yi * this.width + xi);
    this.png.data[k] = c[0];
    this.png.data[k + 1] = c[1];
    this.png.data[k + 2] = c[2];
  }

  get(x: number, y: number): Rgb {
    const k = 4 * (y * this.width + x);
    return [this.png.data[k], this.png.data[k + 1], this.png.data[k + 2]];
  }

  /** A line `thickness` pixels wide; `dash` = [on, off] pixel lengths. */
  line(x0: number, y0: number, x1: number, y1: number, c: Rgb, thickness = 1, dash?: readonly [number, number]): void {
    const len = Math.hypot(x1 - x0, y1 - y0);
    const n = Math.max(1, Math.ceil(len * 2));
    const r = (thickness - 1) / 2;
    for (let i = 0; i <= n; i++) {
      const along = (i / n) * len;
      if (dash && along % (dash[0] + dash[1]) >= dash[0]) continue;
      const x = x0 + ((x1 - x0) * i) / n;
      const y = y0 + ((y1 - y0) * i) / n;
      for (let dx = -r; dx <= r; dx++) for (let dy = -r; dy <= r; dy++) this.set(x + dx, y + dy, c);
    }
  }

  rect(x: number, y: number, w: number, h: number, c: Rgb): void {
    for (let i = 0; i < w; i++) for (let j = 0; j < h; j++) this.set(x + i, y + j, c);
  }

  /** Text with its top-left corner at (x, y); `scale` multiplies the 5x7 glyphs; `vertical` reads bottom-up. */
  text(x: number, y: number, s: string, c: Rgb, scale = 1, vertical = false): void {
    let pen = 0;
    for (const ch of s.toUpperCase()) {
      const g = FONT[ch] ?? FONT['*'];
      for (let row = 0; row < GLYPH_H; row++) {
        for (let col = 0; col < GLYPH_W; col++) {
          if (!((g[row] >> (GLYPH_W - 1 - col)) & 1)) continue;
          for (let a = 0; a < scale; a++) {
            for (let b = 0; b < scale; b++) {
              const u = pen + col * scale + a;
              const v = row * scale + b;
              if (vertical) this.set(x + v, y - u, c);
              else this.set(x + u, y + v, c);
            }
          }
        }
      }
      pen += (GLYPH_W + 1) * scale;
    }
  }

  encode(): Buffer {
    return PNG.sync.write(this.png);
  }
}

/** Width in pixels of `s` drawn at `scale`. */
export function textWidth(s: string, scale = 1): number {
  return s.length === 0 ? 0 : (s.length * (GLYPH_W + 1) - 1) * scale;
}

/** The decades [10^lo, 10^hi] covering the positive finite values (at least one decade). */
function decadeRange(values: number[]): [number, number] {
  const v = values.filter((x) => x > 0 && Number.isFinite(x));
  if (v.length === 0) return [0, 1];
  const lo = Math.floor(Math.log10(Math.min(...v)));
  const hi = Math.ceil(Math.log10(Math.max(...v)));
  return [lo, Math.max(hi, lo + 1)];
}

function tickLabel(exp: number): string {
  if (exp >= 0 && exp <= 3) return String(10 ** exp);
  return `1E${exp}`;
}

const AXIS: Rgb = [40, 40, 40];
const GRID: Rgb = [225, 225, 225];
const MINOR_GRID: Rgb = [242, 242, 242];

/** Draws one log-log panel into the box (x, y, w, h) of the canvas. */
export function drawLogLogPanel(canvas: Canvas, box: { x: number; y: number; w: number; h: number }, panel: PlotPanel): void {
  const pts = panel.series.flatMap((s) => s.points.filter(([px, py]) => px > 0 && py > 0 && Number.isFinite(px) && Number.isFinite(py)));
  const [xlo, xhi] = decadeRange(pts.map((p) => p[0]));
  const [ylo, yhi] = decadeRange(pts.map((p) => p[1]));
  const left = box.x + 60;
  const top = box.y + 28;
  const legendW = 8 + Math.max(0, ...panel.series.map((s) => textWidth(s.name))) + 30;
  const right = box.x + box.w - legendW - 10;
  const bottom = box.y + box.h - 40;
  const px = (v: number) => left + ((Math.log10(v) - xlo) / (xhi - xlo)) * (right - left);
  const py = (v: number) => bottom - ((Math.log10(v) - ylo) / (yhi - ylo)) * (bottom - top);

  canvas.text(left + (right - left - textWidth(panel.title, 2)) / 2, box.y + 6, panel.title, AXIS, 2);
  // Grid: decades and their 2..9 multiples.
  for (let e = xlo; e <= xhi; e++) {
    for (let m = 2; m < 10 && e < xhi; m++) canvas.line(px(m * 10 ** e), top, px(m * 10 ** e), bottom, MINOR_GRID);
    canvas.line(px(10 ** e), top, px(10 ** e), bottom, GRID);
    const label = tickLabel(e);
    canvas.line(px(10 ** e), bottom, px(10 ** e), bottom + 5, AXIS);
    canvas.text(px(10 ** e) - textWidth(label) / 2, bottom + 8, label, AXIS);
  }
  for (let e = ylo; e <= yhi; e++) {
    for (let m = 2; m < 10 && e < yhi; m++) canvas.line(left, py(m * 10 ** e), right, py(m * 10 ** e), MINOR_GRID);
    canvas.line(left, py(10 ** e), right, py(10 ** e), GRID);
    const label = tickLabel(e);
    canvas.line(left - 5, py(10 ** e), left, py(10 ** e), AXIS);
    canvas.text(left - 8 - textWidth(label), py(10 ** e) - 3, label, AXIS);
  }
  canvas.line(left, bottom, right, bottom, AXIS);
  canvas.line(left, top, left, bottom, AXIS);
  canvas.text(left + (right - left - textWidth(panel.xLabel)) / 2, bottom + 24, panel.xLabel, AXIS);
  canvas.text(box.x + 4, top + (bottom - top + textWidth(panel.yLabel)) / 2, panel.yLabel, AXIS, 1, true);

  panel.series.forEach((s, k) => {
    const valid = s.points.filter(([a, b]) => a > 0 && b > 0 && Number.isFinite(a) && Number.isFinite(b));
    for (let i = 1; i < valid.length; i++) {
      canvas.line(px(valid[i - 1][0]), py(valid[i - 1][1]), px(valid[i][0]), py(valid[i][1]), s.color, 2, s.dashed ? [6, 4] : undefined);
    }
    for (const [a, b] of valid) canvas.rect(px(a) - 2, py(b) - 2, 5, 5, s.color);
    // Legend entry.
    const ly = top + 4 + k * 14;
    const lx = right + 16;
    canvas.line(lx, ly + 3, lx + 18, ly + 3, s.color, 2, s.dashed ? [4, 3] : undefined);
    canvas.text(lx + 24, ly, s.name, AXIS);
  });
}

/** Panels side by side on one PNG. */
export function logLogPlotPng(panels: readonly PlotPanel[], panelWidth = 560, height = 420): Buffer {
  const canvas = new Canvas(panelWidth * panels.length, height);
  panels.forEach((p, i) => drawLogLogPanel(canvas, { x: i * panelWidth, y: 0, w: panelWidth, h: height }, p));
  return canvas.encode();
}
