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
const Color = z.string().regex(/^#[0-9a-fA-F]{6}$/, 'colour must be #rrggbb');
const Position = z.object({ x: z.number().finite(), y: z.number().finite() });

/** A param value as stored: JSON scalars only (files are strings, seeds integers). */
export const ParamValueSchema = z.union([z.number(), z.string(), z.boolean()]);

export const GraphNodeSchema = z.object({
  id: Id,
  type: z.string().min(1),
  params: z.record(z.string(), ParamValueSchema).default({}),
  position: Position.default({ x: 0, y: 0 }),
  title: z.string().max(200).optional(),
  color: Color.optional(),
  /** Node type version the params were written for (for per-node migrations). */
  typeVersion: z.number().int().positive().optional(),
});

export const GraphEdgeSchema = z.object({
  id: Id,
  source: Id,
  sourcePort: z.string().min(1),
  target: Id,
  targetPort: z.string().min(1),
});

export const GraphGroupSchema = z.object({
  id: Id,
  title: z.string().max(200).default(''),
  color: Color.optional(),
  bounds: z.object({ x: z.number(), y: z.number(), width: z.number().nonnegative(), height: z.number().nonnegative() }),
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

export const ViewportSchema = z.object({ x: z.number(), y: z.number(), zoom: z.number().positive() });

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
