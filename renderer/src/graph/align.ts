/** Align and distribute: new top-left positions for node rectangles. Pure; the store applies them as one step. */
import { boundingRect, type Rect, type XY } from './geometry.ts';

export const ALIGN_MODES = ['left', 'right', 'top', 'bottom', 'center-x', 'center-y', 'distribute-x', 'distribute-y'] as const;
export type AlignMode = (typeof ALIGN_MODES)[number];

/**
 * Positions after aligning `rects` (ids and rectangles). Edges align to the selection's bounding box;
 * centres align to its centre line; distribute keeps the outermost two in place and spaces the boxes
 * between them with equal gaps, in their current order. Fewer than 2 rects (3 to distribute) change nothing.
 */
export function alignRects(rects: readonly (Rect & { id: string })[], mode: AlignMode): Record<string, XY> {
  const out: Record<string, XY> = {};
  const box = boundingRect(rects);
  if (!box || rects.length < 2) return out;
  const right = box.x + box.width;
  const bottom = box.y + box.height;
  for (const r of rects) {
    switch (mode) {
      case 'left':
        out[r.id] = { x: box.x, y: r.y };
        break;
      case 'right':
        out[r.id] = { x: right - r.width, y: r.y };
        break;
      case 'top':
        out[r.id] = { x: r.x, y: box.y };
        break;
      case 'bottom':
        out[r.id] = { x: r.x, y: bottom - r.height };
        break;
      case 'center-x':
        out[r.id] = { x: box.x + box.width / 2 - r.width / 2, y: r.y };
        break;
      case 'center-y':
        out[r.id] = { x: r.x, y: box.y + box.height / 2 - r.height / 2 };
        break;
      case 'distribute-x':
      case 'distribute-y':
        break;
    }
  }
  if (mode === 'distribute-x' || mode === 'distribute-y') Object.assign(out, distribute(rects, mode === 'distribute-x' ? 'x' : 'y'));
  return out;
}

function distribute(rects: readonly (Rect & { id: string })[], axis: 'x' | 'y'): Record<string, XY> {
  const out: Record<string, XY> = {};
  if (rects.length < 3) return out;
  const extent = axis === 'x' ? 'width' : 'height';
  // Order by centre so overlapping boxes keep a sensible order; ties by id for determinism.
  const sorted = [...rects].sort((a, b) => a[axis] + a[extent] / 2 - (b[axis] + b[extent] / 2) || a.id.localeCompare(b.id));
  const first = sorted[0];
  const last = sorted[sorted.length - 1];
  const span = last[axis] + last[extent] - first[axis];
  const gap = (span - sorted.reduce((sum, r) => sum + r[extent], 0)) / (sorted.length - 1);
  let at = first[axis];
  for (const r of sorted) {
    out[r.id] = axis === 'x' ? { x: at, y: r.y } : { x: r.x, y: at };
    at += r[extent] + gap;
  }
  return out;
}
