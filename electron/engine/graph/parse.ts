/**
 * Graph documents from JSON text or parsed values, in any environment (the engine and the renderer share
 * it: no Node modules): migrated to the current schema version and validated, or a GraphValidationError
 * whose errors say where (line and column, or a JSON path tied to the node or edge) and why.
 */
import type { z } from 'zod';
import { GraphValidationError, type GraphError } from './errors.ts';
import { migrateGraph } from './migrate.ts';
import { GraphDocumentSchema, type GraphDocument } from './schema.ts';
import { abbreviate } from '../../../nodes/core/quote.ts';

/** Parses graph file text (any supported schema version) into a current-version document. */
export function parseGraphText(text: string): GraphDocument {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text; // editors on Windows may add a BOM
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch (e) {
    throw new GraphValidationError([{ code: 'schema', path: '', message: jsonErrorMessage(body, e as Error) }]);
  }
  return parseGraphObject(raw);
}

/**
 * How deep any value in a document may nest. A real graph nests about five levels; JSON.parse accepts
 * hundreds of thousands, which the recursive steps after it (freezing a prepared run, writing the canonical
 * text) then overflow the stack on.
 */
export const MAX_NESTING = 64;

/** A value parsed from JSON (or received over IPC) as a current-version document. */
export function parseGraphObject(value: unknown): GraphDocument {
  checkNesting(value);
  const { doc } = migrateGraph(value);
  const result = GraphDocumentSchema.safeParse(doc);
  if (!result.success) throw new GraphValidationError(zodIssuesToGraphErrors(result.error.issues, doc));
  return result.data;
}

/** Throws a schema error naming the first path that nests deeper than MAX_NESTING. */
function checkNesting(value: unknown): void {
  const path = tooDeep(value, MAX_NESTING);
  if (!path) return;
  const where = formatJsonPath(path.slice(0, 3));
  throw new GraphValidationError([{ code: 'schema', path: where, message: `${where || '(document)'}: nested more than ${MAX_NESTING} levels deep (a graph never needs that)` }]);
}

/**
 * The path to the first object or array nested more than `max` levels deep in a JSON value, or undefined.
 * Iterative, so any depth is safe to check (JSON.parse builds values deeper than recursive code can walk).
 */
export function tooDeep(value: unknown, max: number): PropertyKey[] | undefined {
  const stack: { v: unknown; path: PropertyKey[] }[] = [{ v: value, path: [] }];
  while (stack.length > 0) {
    const { v, path } = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (path.length >= max) return path;
    for (const [k, child] of Array.isArray(v) ? v.entries() : Object.entries(v)) if (typeof child === 'object' && child !== null) stack.push({ v: child, path: [...path, k] });
  }
  return undefined;
}

/** Zod issues as 'schema' GraphErrors with readable JSON paths (`nodes[2].position.x`), tied to node/edge ids where possible. */
export function zodIssuesToGraphErrors(issues: readonly z.core.$ZodIssue[], doc: unknown): GraphError[] {
  return issues.map((issue) => {
    const where = formatJsonPath(issue.path);
    const [list, i, field, param] = issue.path;
    const item = typeof i === 'number' && isObject(doc) && Array.isArray(doc[list as string]) ? (doc[list as string] as unknown[])[i] : undefined;
    // A param value is named as validation names params: by node id and param name, not by position.
    const named = list === 'nodes' && field === 'params' && typeof param === 'string' && issue.path.length === 4 && isObject(item) && typeof item.id === 'string';
    const label = named ? `node "${item.id}"${typeof item.type === 'string' ? ` (${abbreviate(item.type)})` : ''}: param "${abbreviate(param)}"` : where || '(document)';
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
    else out += `[${JSON.stringify(abbreviate(String(p)))}]`;
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

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
