/**
 * Graph documents in the renderer: parse (any supported version, migrated) without Node modules, and a
 * fresh empty document. Errors come back as values with one readable sentence plus the GraphErrors.
 */
import type { GraphError } from '../../../electron/engine/graph/errors.ts';
import { GraphValidationError } from '../../../electron/engine/graph/errors.ts';
import { migrateGraph } from '../../../electron/engine/graph/migrate.ts';
import { GRAPH_FORMAT, GRAPH_SCHEMA_VERSION, GraphDocumentSchema, type GraphDocument } from '../../../electron/engine/graph/schema.ts';

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
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input.charCodeAt(0) === 0xfeff ? input.slice(1) : input);
    } catch (e) {
      const reason = `Not a graph file: the text is not valid JSON (${(e as Error).message})`;
      return { ok: false, reason, errors: [{ code: 'schema', path: '', message: reason }] };
    }
  }
  try {
    const { doc } = migrateGraph(value);
    const result = GraphDocumentSchema.safeParse(doc);
    if (result.success) return { ok: true, doc: result.data };
    const errors: GraphError[] = result.error.issues.map((issue) => {
      const path = issue.path.map(String).join('.');
      return { code: 'schema', path, message: `${path || 'document'}: ${issue.message}` };
    });
    return { ok: false, reason: `Not a valid graph file: ${errors.map((e) => e.message).join('; ')}`, errors };
  } catch (e) {
    if (e instanceof GraphValidationError) return { ok: false, reason: `Not a valid graph file: ${e.message}`, errors: e.errors };
    throw e;
  }
}
