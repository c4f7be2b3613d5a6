/**
 * Schema migrations: every older graph file version is brought up to the current one through a chain
 * of small named steps, one per version bump. Files are never downgraded: a newer version is refused.
 */
import { GraphValidationError, type GraphError } from './errors.ts';
import { GRAPH_FORMAT, GRAPH_SCHEMA_VERSION } from './schema.ts';

export interface Migration {
  from: number;
  to: number;
  /** Short id shown in logs and reports, e.g. "v0-draft-to-v1". */
  name: string;
  /** Takes a document of version `from` (already checked to be that version) and returns one of version `to`. */
  up(doc: unknown): unknown;
}

/**
 * Version 0: the pre-release draft format the first prototype wrote:
 * { version: 0, name?, nodes: [{ id, type, params?, x?, y? }], links: [[sourceId, sourcePort, targetId, targetPort], ...] }
 */
const v0ToV1: Migration = {
  from: 0,
  to: 1,
  name: 'v0-draft-to-v1',
  up(raw) {
    const doc = raw as Record<string, unknown>;
    const errors: GraphError[] = [];
    const fail = (path: string, message: string) => errors.push({ code: 'schema', path, message: `${path}: ${message}` });

    if (doc.name !== undefined && typeof doc.name !== 'string') fail('name', 'must be a string');
    if (!Array.isArray(doc.nodes)) fail('nodes', 'must be an array');
    const links = doc.links ?? [];
    if (!Array.isArray(links)) fail('links', 'must be an array');
    const nodes = Array.isArray(doc.nodes) ? doc.nodes : [];
    nodes.forEach((n: unknown, i: number) => {
      if (!isObject(n)) fail(`nodes[${i}]`, 'must be an object');
    });
    if (Array.isArray(links)) {
      links.forEach((l: unknown, i: number) => {
        if (!Array.isArray(l) || l.length !== 4 || !l.every((s) => typeof s === 'string')) {
          fail(`links[${i}]`, 'must be [sourceId, sourcePort, targetId, targetPort] (four strings)');
        }
      });
    }
    if (errors.length) throw new GraphValidationError(errors);

    const out: Record<string, unknown> = {
      format: GRAPH_FORMAT,
      schemaVersion: 1,
      metadata: { name: typeof doc.name === 'string' ? doc.name : 'Untitled' },
      // Field types inside nodes are left to the v1 schema, which reports them with their paths.
      nodes: (nodes as Record<string, unknown>[]).map((n) => ({
        id: n.id,
        type: n.type,
        params: n.params ?? {},
        position: { x: n.x ?? 0, y: n.y ?? 0 },
      })),
      edges: (links as string[][]).map(([source, sourcePort, target, targetPort], i) => ({
        id: `e${i}`,
        source,
        sourcePort,
        target,
        targetPort,
      })),
    };
    return out;
  },
};

/** The chain, in order. A version bump appends one migration here and adds sample files under test/fixtures/graphs/. */
export const MIGRATIONS: readonly Migration[] = [v0ToV1];

/**
 * The schema version of a raw (JSON-parsed) document: `schemaVersion` of a FlowStudio graph, or 0 for
 * the draft format. Throws a clear 'schema' error for anything else (other apps' files included).
 */
export function detectVersion(raw: unknown): number {
  if (!isObject(raw)) throw schemaError('', `a graph file must hold a JSON object, not ${describe(raw)}`);
  if ('format' in raw) {
    if (raw.format !== GRAPH_FORMAT) {
      throw schemaError('format', `format: this is not a FlowStudio graph (format is ${JSON.stringify(raw.format)}, expected "${GRAPH_FORMAT}")`);
    }
    const v = raw.schemaVersion;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw schemaError('schemaVersion', `schemaVersion: must be a positive integer (got ${JSON.stringify(v) ?? 'nothing'})`);
    }
    return v;
  }
  if (raw.version === 0 && Array.isArray(raw.nodes)) return 0;
  throw schemaError('format', `format: this is not a FlowStudio graph (no "format": "${GRAPH_FORMAT}" field)`);
}

/**
 * Runs the chain from the document's version to the newest version the chain reaches (the current
 * schema version for the built-in chain). `applied` lists the migration names in the order they ran.
 * @throws GraphValidationError 'unsupported_version' for a version newer than this app knows.
 */
export function migrateGraph(raw: unknown, migrations: readonly Migration[] = MIGRATIONS): { doc: unknown; applied: string[] } {
  const latest = Math.max(GRAPH_SCHEMA_VERSION, ...migrations.map((m) => m.to));
  let version = detectVersion(raw);
  if (version > latest) {
    throw new GraphValidationError([
      {
        code: 'unsupported_version',
        path: 'schemaVersion',
        message: `this graph was saved by a newer FlowStudio (schema version ${version}; this app reads up to ${latest}): update the app to open it`,
      },
    ]);
  }

  let doc = raw;
  const applied: string[] = [];
  while (version < latest) {
    const step = migrations.find((m) => m.from === version);
    if (!step) throw new Error(`No graph migration from schema version ${version} (the chain is broken)`);
    if (step.to <= step.from) throw new Error(`Graph migration "${step.name}" does not move forward (${step.from} -> ${step.to})`);
    doc = step.up(doc);
    const reached = detectVersion(doc);
    if (reached !== step.to) throw new Error(`Graph migration "${step.name}" produced version ${reached}, expected ${step.to}`);
    applied.push(step.name);
    version = reached;
  }
  return { doc, applied };
}

function schemaError(path: string, message: string): GraphValidationError {
  return new GraphValidationError([{ code: 'schema', path, message }]);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return `a ${typeof v}`;
}
