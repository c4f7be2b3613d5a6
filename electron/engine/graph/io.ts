/**
 * Reading and writing graph documents: JSON text <-> validated, migrated GraphDocument. Every failure
 * comes out as a GraphValidationError whose errors say where (line/column or JSON path) and why.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import { GraphValidationError, type GraphError } from './errors.ts';
import { migrateGraph } from './migrate.ts';
import { GraphDocumentSchema, type GraphDocument } from './schema.ts';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Parses graph file text (any supported schema version) into a current-version document. */
export function parseGraph(text: string, source?: string): GraphDocument {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text; // editors on Windows may add a BOM
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch (e) {
    throw withSource(new GraphValidationError([{ code: 'schema', path: '', message: jsonErrorMessage(body, e as Error) }]), source);
  }
  return parseGraphValue(raw, source);
}

/** Same as parseGraph for a value already parsed from JSON (or received over IPC); a string is parsed as text. */
export function parseGraphValue(value: unknown, source?: string): GraphDocument {
  if (typeof value === 'string') return parseGraph(value, source);
  try {
    const { doc } = migrateGraph(value);
    const result = GraphDocumentSchema.safeParse(doc);
    if (!result.success) throw new GraphValidationError(zodIssuesToGraphErrors(result.error.issues, doc));
    return result.data;
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

/** Zod issues as 'schema' GraphErrors with readable JSON paths (`nodes[2].position.x`), tied to node/edge ids where possible. */
export function zodIssuesToGraphErrors(issues: readonly z.core.$ZodIssue[], doc: unknown): GraphError[] {
  return issues.map((issue) => {
    const where = formatJsonPath(issue.path);
    const [list, i, field, param] = issue.path;
    const item = typeof i === 'number' && isObject(doc) && Array.isArray(doc[list as string]) ? (doc[list as string] as unknown[])[i] : undefined;
    // A param value is named as validation names params: by node id and param name, not by position.
    const named = list === 'nodes' && field === 'params' && typeof param === 'string' && issue.path.length === 4 && isObject(item) && typeof item.id === 'string';
    const label = named ? `node "${item.id}"${typeof item.type === 'string' ? ` (${item.type})` : ''}: param "${param}"` : where || '(document)';
    const error: GraphError = { code: 'schema', path: where, message: `${label}: ${issueMessage(issue, doc)}` };
    if (isObject(item) && typeof item.id === 'string') {
      if (list === 'nodes') {
        error.nodeId = item.id;
        if (typeof item.type === 'string') error.nodeType = item.type;
      } else if (list === 'edges') error.edgeId = item.id;
    }
    return error;
  });
}

/** Zod's message, made specific where it is vague: missing fields and "one of several types" unions. */
function issueMessage(issue: z.core.$ZodIssue, doc: unknown): string {
  const value = valueAt(doc, issue.path);
  if (issue.code === 'invalid_type' && value === undefined) return `required field is missing (expected ${issue.expected})`;
  if (issue.code === 'invalid_union') {
    const expected = issue.errors.flat().flatMap((i) => (i.code === 'invalid_type' ? [i.expected] : []));
    if (expected.length === issue.errors.length) return `expected ${expected.slice(0, -1).join(', ')}${expected.length > 1 ? ' or ' : ''}${expected[expected.length - 1]}, got ${describeKind(value)}`;
  }
  if (issue.code === 'invalid_type' && typeof value === 'number' && !Number.isFinite(value)) return `expected a finite ${issue.expected}, got ${value}`;
  return issue.message;
}

/** What a value is, for "expected X, got Y": NaN and infinities are numbers to JavaScript but not to a graph (JSON has neither). */
function describeKind(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'number' && !Number.isFinite(value)) return `${value} (not a finite number)`;
  return typeof value === 'object' ? 'an object' : typeof value;
}

function valueAt(doc: unknown, parts: readonly PropertyKey[]): unknown {
  let v = doc;
  for (const p of parts) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

/** ['nodes', 2, 'position', 'x'] -> 'nodes[2].position.x'; keys that are not identifiers are quoted. */
export function formatJsonPath(parts: readonly PropertyKey[]): string {
  let out = '';
  for (const p of parts) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (typeof p === 'string' && /^[A-Za-z_$][\w$]*$/.test(p)) out += out ? `.${p}` : p;
    else out += `[${JSON.stringify(String(p))}]`;
  }
  return out;
}

/** A JSON.parse failure as "invalid JSON at line 3, column 7: unexpected ','" (Node 20's messages often lack a position). */
function jsonErrorMessage(text: string, e: Error): string {
  if (text.trim() === '') return 'the file is empty (expected a JSON graph document)';
  const found = locateJsonError(text);
  if (!found) return `invalid JSON: ${e.message}`;
  const before = text.slice(0, found.offset);
  const line = before.split('\n').length;
  const column = found.offset - before.lastIndexOf('\n');
  return `invalid JSON at line ${line}, column ${column}: ${found.reason}`;
}

/**
 * Finds where a JSON text first goes wrong (a strict RFC 8259 scan); undefined when it finds nothing.
 * Only runs after JSON.parse has failed, so it favours clarity over speed.
 */
export function locateJsonError(text: string): { offset: number; reason: string } | undefined {
  let i = 0;
  class Stop {
    constructor(
      readonly offset: number,
      readonly reason: string,
    ) {}
  }
  const stop = (reason: string, at = i): never => {
    throw new Stop(at, at >= text.length ? 'unexpected end of input' : reason);
  };
  const unexpected = () => stop(`unexpected ${JSON.stringify(text[i])}`);
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const expectChar = (c: string, what: string) => {
    ws();
    if (text[i] !== c) stop(`expected ${what}, found ${JSON.stringify(text[i])}`);
    i++;
  };
  const string = () => {
    i++; // opening quote
    while (i < text.length && text[i] !== '"') {
      const c = text.charCodeAt(i);
      if (c < 0x20) stop('control character inside a string (escape it, e.g. \\n)');
      if (text[i] === '\\') {
        i++;
        if (text[i] === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) stop('bad \\u escape');
          i += 5;
          continue;
        }
        if (!'"\\/bfnrt'.includes(text[i] ?? '')) stop(`bad escape \\${text[i] ?? ''}`);
      }
      i++;
    }
    if (i >= text.length) stop('unterminated string');
    i++; // closing quote
  };
  const value = (depth: number): void => {
    if (depth > 10_000) stop('nesting too deep');
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        if (text[i] !== '"') stop(`expected a property name in double quotes, found ${JSON.stringify(text[i])}`);
        string();
        expectChar(':', "':'");
        value(depth + 1);
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') return void i++;
        else stop(`expected ',' or '}', found ${JSON.stringify(text[i])}`);
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value(depth + 1);
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') return void i++;
        else stop(`expected ',' or ']', found ${JSON.stringify(text[i])}`);
      }
    }
    if (c === '"') return string();
    const literal = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(text.slice(i, i + 400));
    if (!literal) unexpected();
    i += literal![0].length;
  };
  try {
    value(0);
    ws();
    if (i < text.length) unexpected();
    return undefined;
  } catch (err) {
    if (err instanceof Stop) return { offset: err.offset, reason: err.reason };
    return undefined; // e.g. stack overflow on absurd nesting: fall back to the runtime's message
  }
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
