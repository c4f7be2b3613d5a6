/**
 * Category colours (node title stripe, palette chips). Port colours live with the graph model
 * (../graph/port-colors.ts) so handles, edges and the legend agree.
 */
export { portColor } from '../graph/port-colors.ts';

const CATEGORY_COLORS: Record<string, string> = {
  model: '#8b5cf6',
  sampling: '#ec4899',
  latent: '#f43f5e',
  image: '#0ea5e9',
  io: '#64748b',
  metrics: '#84cc16',
  conditioning: '#f59e0b',
  guidance: '#eab308',
  debug: '#14b8a6',
};

/** Colours offered for groups (the schema wants #rrggbb). */
export const GROUP_COLORS = ['#3b82f6', '#8b5cf6', '#ec4899', '#f59e0b', '#10b981', '#64748b'] as const;

export function categoryColor(category: string): string {
  return CATEGORY_COLORS[category] ?? hashColor(category);
}

/** A stable, readable colour for categories nobody listed (new node packs). */
function hashColor(name: string): string {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return `hsl(${h % 360} 65% 62%)`;
}
