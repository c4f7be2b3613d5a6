/**
 * Cache keys: a node's outputs are identified by what produced them, never by the node's id, so two
 * identical nodes share outputs and renaming a node keeps its cache. The key of a node folds in the keys
 * of its sources, so any upstream change re-keys everything downstream (a Merkle chain over the graph).
 */
import { createHash } from 'node:crypto';

/** Bumped when the key material's layout changes, so stale keys can never collide with new ones. */
const KEY_SCHEME = 'flowstudio-cache-key/2';

/** Where one input port's value comes from: the source node's cache key and the port read from it. */
export interface InputSource {
  key: string;
  port: string;
}

export interface CacheKeyMaterial {
  type: string;
  version: number;
  /** Resolved params (defaults filled in), JSON scalars only. */
  params: Record<string, unknown>;
  /** The node's cacheSalt(), when it declares one. */
  salt?: string;
  /** Every declared input port; an unconnected port maps to null. */
  inputs: Record<string, InputSource | null>;
}

export function computeCacheKey(m: CacheKeyMaterial): string {
  return cacheKeyFromBase(cacheKeyBase(m), m.salt, m.inputs);
}

/**
 * The part of a key fixed by the node itself (type, version, resolved params): computed once per prepared
 * run, since canonicalising the params is most of a key's cost.
 */
export function cacheKeyBase(m: Pick<CacheKeyMaterial, 'type' | 'version' | 'params'>): string {
  return canonicalJson({ scheme: KEY_SCHEME, type: m.type, version: m.version, params: m.params });
}

/** A node's key from its base and what a run adds: the salt and the keys of its sources. */
export function cacheKeyFromBase(base: string, salt: string | undefined, inputs: Record<string, InputSource | null>): string {
  const rest = sourcesJson(salt, inputs);
  // Re-runs ask for the same keys again, and hashing the whole material (the base holds every param)
  // costs more than finding it: look up by base (a prepared run's own string, whose hash V8 keeps),
  // then by the short rest.
  let byRest = recentKeys.get(base);
  if (byRest) {
    recentKeys.delete(base);
  } else {
    byRest = new Map();
    if (recentKeys.size >= RECENT_BASES_KEPT) recentKeys.delete(recentKeys.keys().next().value as string);
  }
  recentKeys.set(base, byRest);
  let key = byRest.get(rest);
  if (key === undefined) {
    // Canonical JSON never holds a raw newline, so base + '\n' + rest parses back one way only.
    key = createHash('sha256').update(`${base}\n${rest}`).digest('hex');
    if (byRest.size >= RECENT_KEYS_PER_BASE) byRest.delete(byRest.keys().next().value as string);
    byRest.set(rest, key);
  }
  return key;
}

/**
 * canonicalJson({ salt, inputs }) written directly (it runs for every node of every run): keys in sorted
 * order ("inputs" < "salt"; "key" < "port"), strings through JSON.stringify. A test holds the two equal.
 */
export function sourcesJson(salt: string | undefined, inputs: Record<string, InputSource | null>): string {
  const ports = Object.keys(inputs).sort();
  let text = '{"inputs":{';
  for (let k = 0; k < ports.length; k++) {
    const src = inputs[ports[k]];
    if (src === undefined) continue;
    if (text.length > 11) text += ',';
    text += `${JSON.stringify(ports[k])}:${src === null ? 'null' : `{"key":${JSON.stringify(src.key)},"port":${JSON.stringify(src.port)}}`}`;
  }
  return `${text}},"salt":${salt === undefined ? 'null' : JSON.stringify(salt)}}`;
}

/** Digests of recently keyed material: base -> rest -> key, least recently used bases first. */
const recentKeys = new Map<string, Map<string, string>>();
const RECENT_BASES_KEPT = 256;
const RECENT_KEYS_PER_BASE = 16;

/**
 * JSON with object keys sorted at every depth, so equal values always give equal text regardless of
 * insertion order. Only JSON-representable data is accepted: anything else would make the key lie.
 */
export function canonicalJson(value: unknown): string {
  return write(value, '$');
}

function write(value: unknown, path: string): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new Error(`cache key: ${path} is ${value}, which JSON cannot represent`);
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v, i) => write(v, `${path}[${i}]`)).join(',')}]`;
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new Error(`cache key: ${path} is a ${proto?.constructor?.name ?? 'non-plain object'}, not plain JSON data`);
      }
      const entries = Object.keys(value)
        .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
        .sort()
        .map((k) => `${JSON.stringify(k)}:${write((value as Record<string, unknown>)[k], `${path}.${k}`)}`);
      return `{${entries.join(',')}}`;
    }
    default:
      throw new Error(`cache key: ${path} is a ${typeof value}, not plain JSON data`);
  }
}
