/**
 * The window's size, place and maximized state, kept across launches in <data dir>/window-state.json.
 * A saved place that no display shows any more (a monitor unplugged) is dropped, keeping the size, so the
 * window never opens off screen.
 */
import fs from 'node:fs';
import { writeFileAtomic } from '../../nodes/core/io/atomic-write.ts';

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface WindowState {
  bounds: Rect;
  maximized: boolean;
}

export const MIN_WINDOW = { width: 900, height: 600 };
const MAX_SIDE = 32_768;
/** How much of the title bar must lie on a display for a saved place to count as visible. */
const VISIBLE_PX = 64;

/** The saved state, or undefined when there is none or it is unreadable (the default size is used then). */
export function readWindowState(file: string): WindowState | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
  const r = raw as { bounds?: Partial<Rect>; maximized?: unknown } | null;
  const b = r?.bounds;
  const int = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && Math.abs(v) <= MAX_SIDE;
  if (!b || ![b.x, b.y, b.width, b.height].every(int)) return undefined;
  if (b.width! < MIN_WINDOW.width || b.height! < MIN_WINDOW.height) return undefined;
  return { bounds: { x: b.x!, y: b.y!, width: b.width!, height: b.height! }, maximized: r?.maximized === true };
}

export function writeWindowState(file: string, state: WindowState): Promise<void> {
  return writeFileAtomic(file, Buffer.from(JSON.stringify(state), 'utf8'));
}

/**
 * The bounds to open with: the saved ones when a display's work area shows enough of the window's top
 * edge (where the title bar is), else only the saved size (the system places the window).
 */
export function placeOnDisplays(state: WindowState, workAreas: readonly Rect[]): Partial<Rect> {
  const { x, y, width, height } = state.bounds;
  const titleBar = { x, y, width, height: Math.min(height, 32) };
  const visible = workAreas.some((a) => overlap(titleBar.x, titleBar.width, a.x, a.width) >= VISIBLE_PX && overlap(titleBar.y, titleBar.height, a.y, a.height) > 0);
  return visible ? { x, y, width, height } : { width, height };
}

function overlap(a: number, aLength: number, b: number, bLength: number): number {
  return Math.max(0, Math.min(a + aLength, b + bLength) - Math.max(a, b));
}
