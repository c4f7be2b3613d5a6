/**
 * Graph files: reading (parse.ts validates and migrates; this adds the file name to its errors), atomic
 * writing, and the canonical text a document is saved as.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { GraphValidationError } from './errors.ts';
import { parseGraphObject, parseGraphText, zodIssuesToGraphErrors } from './parse.ts';
import { GraphDocumentSchema, type GraphDocument } from './schema.ts';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Parses graph file text (any supported schema version) into a current-version document. */
export function parseGraph(text: string, source?: string): GraphDocument {
  try {
    return parseGraphText(text);
  } catch (e) {
    throw e instanceof GraphValidationError ? withSource(e, source) : e;
  }
}

/** Same as parseGraph for a value already parsed from JSON (or received over IPC); a string is parsed as text. */
export function parseGraphValue(value: unknown, source?: string): GraphDocument {
  try {
    return typeof value === 'string' ? parseGraphText(value) : parseGraphObject(value);
  } catch (e) {
    throw e instanceof GraphValidationError ? withSource(e, source) : e;
  }
}

/**
 * Canonical text of a document: fixed key order (schema order; params and other free-form maps
 * sorted by key), 2-space indent, trailing newline. Changes nothing (no timestamps): the caller does.
 */
export function serializeGraph(doc: GraphDocument): string {
  return JSON.stringify(canonical(doc, DOCUMENT_ORDER), null, 2) + '\n';
}

/** Reads and parses a graph file (.flowstudio or .json). */
export function readGraphFile(file: string): GraphDocument {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new Error(`Cannot read graph file "${file}": ${(e as Error).message}`);
  }
  if (bytes.subarray(0, 8).equals(PNG_SIGNATURE)) {
    throw new Error(`"${file}" is a PNG image: opening graphs embedded in PNG files is not supported yet`);
  }
  return parseGraph(bytes.toString('utf8'), file);
}

/**
 * Writes a graph file atomically: a temp file in the same folder is written and fsynced, then renamed
 * over the target, so a crash leaves either the old file or the new one, never half of one.
 * Refuses to write a document that would not read back.
 */
export function writeGraphFile(file: string, doc: GraphDocument): void {
  const check = GraphDocumentSchema.safeParse(doc);
  if (!check.success) throw withSource(new GraphValidationError(zodIssuesToGraphErrors(check.error.issues, doc)), file);

  const text = serializeGraph(doc);
  const dir = path.dirname(path.resolve(file));
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(temp, 'wx');
    fs.writeFileSync(fd, text, 'utf8');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(temp, file);
  } catch (e) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(temp, { force: true });
    throw new Error(`Cannot write graph file "${file}": ${(e as Error).message}`);
  }
  syncDirectory(dir);
}

function withSource(err: GraphValidationError, source: string | undefined): GraphValidationError {
  if (!source) return err;
  return new GraphValidationError(err.errors.map((e) => ({ ...e, message: `${source}: ${e.message}` })));
}

/** Makes the rename durable on POSIX; directories cannot be opened for fsync on Windows, which is fine. */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // best effort
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---- canonical key order -------------------------------------------------------------------------

/** Key order per object: listed keys first, the rest sorted; `children` gives the order for nested values. */
interface KeyOrder {
  keys?: readonly string[];
  children?: Record<string, KeyOrder>;
  /** Applies to every array element. */
  items?: KeyOrder;
}

const SORTED: KeyOrder = {};
const POINT: KeyOrder = { keys: ['x', 'y'] };
const DOCUMENT_ORDER: KeyOrder = {
  keys: ['format', 'schemaVersion', 'metadata', 'nodes', 'edges', 'groups', 'viewport', 'subgraphs'],
  children: {
    metadata: { keys: ['name', 'description', 'author', 'tags', 'created', 'modified', 'appVersion'] },
    nodes: { items: { keys: ['id', 'type', 'typeVersion', 'title', 'color', 'position', 'params'], children: { position: POINT, params: SORTED } } },
    edges: { items: { keys: ['id', 'source', 'sourcePort', 'target', 'targetPort'] } },
    groups: { items: { keys: ['id', 'title', 'color', 'bounds'], children: { bounds: { keys: ['x', 'y', 'width', 'height'] } } } },
    viewport: { keys: ['x', 'y', 'zoom'] },
    subgraphs: SORTED,
  },
};

function canonical(value: unknown, order: KeyOrder | undefined): unknown {
  if (Array.isArray(value)) return value.map((v) => canonical(v, order?.items ?? order));
  if (!isObject(value)) return value;
  const listed = order?.keys ?? [];
  const rest = Object.keys(value)
    .filter((k) => !listed.includes(k))
    .sort();
  const out: Record<string, unknown> = {};
  for (const k of [...listed.filter((k) => Object.hasOwn(value, k)), ...rest]) {
    // Free-form nested data (subgraphs, unknown fields) gets sorted keys all the way down.
    out[k] = canonical(value[k], order?.children?.[k] ?? SORTED);
  }
  return out;
}
