/**
 * Graph documents in the renderer: parse (any supported version, migrated) without Node modules, and a
 * fresh empty document. Errors come back as values with one readable sentence plus the GraphErrors.
 */
import { GraphValidationError, type GraphError } from '../../../electron/engine/graph/errors.ts';
import { parseGraphObject, parseGraphText } from '../../../electron/engine/graph/parse.ts';
import { GRAPH_FORMAT, GRAPH_SCHEMA_VERSION, type GraphDocument } from '../../../electron/engine/graph/schema.ts';

export type ParseResult = { ok: true; doc: GraphDocument } | { ok: false; reason: string; errors: GraphError[] };

export function emptyDocument(name = 'Untitled'): GraphDocument {
  return {
    format: GRAPH_FORMAT,
    schemaVersion: GRAPH_SCHEMA_VERSION,
    metadata: { name, description: '', author: '', tags: [] },
    nodes: [],
    edges: [],
    groups: [],
    viewport: { x: 0, y: 0, zoom: 1 },
    subgraphs: {},
  };
}

/** A graph document from JSON text or an already parsed value (older versions are migrated). */
export function parseDocument(input: unknown): ParseResult {
  try {
    return { ok: true, doc: typeof input === 'string' ? parseGraphText(input) : parseGraphObject(input) };
  } catch (e) {
    if (!(e instanceof GraphValidationError)) throw e;
    // Same messages as the engine's (node ids, JSON paths, line and column of a JSON error).
    return { ok: false, reason: `Not a valid graph file: ${e.errors.map((x) => x.message).join('; ')}`, errors: e.errors };
  }
}
