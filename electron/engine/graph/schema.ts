/**
 * Graph document format, current version. The zod schema is the single definition; the TypeScript
 * types are inferred from it. Older versions are brought up to this one by ./migrate.ts.
 */
import { z } from 'zod';

export const GRAPH_FORMAT = 'flowstudio-graph';
export const GRAPH_SCHEMA_VERSION = 1;
/** The desktop app owns this extension (JSON inside); plain .json is accepted too. */
export const GRAPH_FILE_EXTENSION = '.flowstudio';

const Id = z.string().min(1).max(200);
/** Node types, port and param names: every validation message quotes them, so a megabyte one made a megabyte message. */
const Name = z.string().min(1).max(200);
const Color = z.string().regex(/^#[0-9a-fA-F]{6}$/, 'colour must be #rrggbb');
/**
 * Canvas coordinates stay within ±10 million units: the canvas draws them as SVG and CSS numbers, which
 * browsers refuse far beyond that (1e300 turned into console errors and an unusable view).
 */
export const CANVAS_LIMIT = 10_000_000;
const canvasMessage = `outside the canvas (at most ${CANVAS_LIMIT.toLocaleString('en-US')} from the origin)`;
const Coordinate = z.number().finite().min(-CANVAS_LIMIT, canvasMessage).max(CANVAS_LIMIT, canvasMessage);
const Extent = z.number().nonnegative().max(2 * CANVAS_LIMIT, `larger than the canvas (at most ${(2 * CANVAS_LIMIT).toLocaleString('en-US')})`);
const Position = z.object({ x: Coordinate, y: Coordinate });

/** A param value as stored: JSON scalars only (files are strings, seeds integers). */
export const ParamValueSchema = z.union([z.number(), z.string(), z.boolean()]);

export const GraphNodeSchema = z.object({
  id: Id,
  type: Name,
  params: z.record(Name, ParamValueSchema).default({}),
  position: Position.default({ x: 0, y: 0 }),
  title: z.string().max(200).optional(),
  color: Color.optional(),
  /** Node type version the params were written for (for per-node migrations). */
  typeVersion: z.number().int().positive().optional(),
});

export const GraphEdgeSchema = z.object({
  id: Id,
  source: Id,
  sourcePort: Name,
  target: Id,
  targetPort: Name,
});

export const GraphGroupSchema = z.object({
  id: Id,
  title: z.string().max(200).default(''),
  color: Color.optional(),
  bounds: z.object({ x: Coordinate, y: Coordinate, width: Extent, height: Extent }),
});

export const GraphMetadataSchema = z.object({
  name: z.string().default('Untitled'),
  description: z.string().default(''),
  author: z.string().default(''),
  tags: z.array(z.string()).default([]),
  created: z.string().optional(),
  modified: z.string().optional(),
  appVersion: z.string().optional(),
});

/** The pan is in screen pixels (canvas coordinates times the zoom). */
export const ViewportSchema = z.object({ x: z.number().finite(), y: z.number().finite(), zoom: z.number().positive().finite() });

export const GraphDocumentSchema = z.object({
  format: z.literal(GRAPH_FORMAT),
  schemaVersion: z.literal(GRAPH_SCHEMA_VERSION),
  metadata: GraphMetadataSchema.default({ name: 'Untitled', description: '', author: '', tags: [] }),
  nodes: z.array(GraphNodeSchema),
  edges: z.array(GraphEdgeSchema).default([]),
  groups: z.array(GraphGroupSchema).default([]),
  viewport: ViewportSchema.default({ x: 0, y: 0, zoom: 1 }),
  /** Reserved for subgraph definitions (a later version gives it a shape); kept as-is. */
  subgraphs: z.record(z.string(), z.unknown()).default({}),
});

export type GraphDocument = z.infer<typeof GraphDocumentSchema>;
export type GraphNode = z.infer<typeof GraphNodeSchema>;
export type GraphEdge = z.infer<typeof GraphEdgeSchema>;
export type GraphGroup = z.infer<typeof GraphGroupSchema>;
export type GraphParamValue = z.infer<typeof ParamValueSchema>;
