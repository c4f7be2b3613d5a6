/** One fixed colour per port type: handles, edges and the legend use the same palette. */
import { PORT_TYPES, type PortType } from '../../../nodes/core/values.ts';

export const PORT_COLORS: Readonly<Record<PortType, string>> = {
  MODEL: '#b48ead',
  LATENT: '#ff79c6',
  IMAGE: '#64b5f6',
  CONDITIONING: '#ffa726',
  SIGMAS: '#4dd0e1',
  NOISE: '#9e9e9e',
  MASK: '#81c784',
  GUIDANCE: '#ffd54f',
  FEATURES: '#9575cd',
  TRAJECTORY: '#e57373',
  METRICS: '#c5e1a5',
  INT: '#7986cb',
  FLOAT: '#26a69a',
  STRING: '#bcaaa4',
  BOOLEAN: '#78909c',
};

/** Colour for types this build does not know (a graph from a newer version). */
export const UNKNOWN_PORT_COLOR = '#cccccc';

export function portColor(type: string): string {
  return (PORT_COLORS as Record<string, string>)[type] ?? UNKNOWN_PORT_COLOR;
}

/** Legend entries in palette order. */
export function portLegend(): { type: PortType; color: string }[] {
  return PORT_TYPES.map((type) => ({ type, color: PORT_COLORS[type] }));
}
