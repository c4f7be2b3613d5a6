/** Node rectangles for layout work (align, groups). Sizes come from React Flow's measurements when known. */
import type { GraphGroup, GraphNode } from '../../../electron/engine/graph/schema.ts';

export interface XY {
  x: number;
  y: number;
}
export interface Size {
  width: number;
  height: number;
}
export interface Rect extends XY, Size {}

/** Size assumed for a node React Flow has not measured yet (close to the rendered default node). */
export const DEFAULT_NODE_SIZE: Size = { width: 240, height: 120 };
/** Space between a group's border and the nodes it was made around; the top leaves room for its title. */
export const GROUP_PADDING = { side: 24, top: 48 };

export function nodeRect(node: Pick<GraphNode, 'position'>, size: Size | undefined): Rect {
  const s = size ?? DEFAULT_NODE_SIZE;
  return { x: node.position.x, y: node.position.y, width: s.width, height: s.height };
}

/** Smallest rectangle holding all the given ones; undefined for none. */
export function boundingRect(rects: readonly Rect[]): Rect | undefined {
  if (rects.length === 0) return undefined;
  const x = Math.min(...rects.map((r) => r.x));
  const y = Math.min(...rects.map((r) => r.y));
  const right = Math.max(...rects.map((r) => r.x + r.width));
  const bottom = Math.max(...rects.map((r) => r.y + r.height));
  return { x, y, width: right - x, height: bottom - y };
}

/** Group bounds around node rectangles, padded, with room for the title on top. */
export function groupBoundsAround(rects: readonly Rect[]): GraphGroup['bounds'] | undefined {
  const box = boundingRect(rects);
  if (!box) return undefined;
  return {
    x: box.x - GROUP_PADDING.side,
    y: box.y - GROUP_PADDING.top,
    width: box.width + 2 * GROUP_PADDING.side,
    height: box.height + GROUP_PADDING.top + GROUP_PADDING.side,
  };
}

/** True when the rectangle's centre lies inside the bounds: how a group decides which nodes it carries. */
export function centreInside(rect: Rect, bounds: Rect): boolean {
  const cx = rect.x + rect.width / 2;
  const cy = rect.y + rect.height / 2;
  return cx >= bounds.x && cx <= bounds.x + bounds.width && cy >= bounds.y && cy <= bounds.y + bounds.height;
}
