/**
 * JSON as the HTTP/WebSocket transport and the CLI write it: plain JSON, except that a non-finite number
 * (the PSNR of two identical tensors is Infinity) becomes {"$nonfinite": "Infinity"} instead of the null
 * JSON.stringify writes, so a client reads back the number the in-process and IPC transports pass as it is.
 */
const TAG = '$nonfinite';

/** JSON text for a value; `indent` as JSON.stringify's. */
export function toWireJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? { [TAG]: String(v) } : v), indent);
}

/** The value back from toWireJson's text: tagged non-finite numbers become numbers again. */
export function fromWireJson(text: string): unknown {
  return reviveNonFinite(JSON.parse(text));
}

/**
 * Tagged non-finite numbers in a parsed value replaced by numbers (in place where nested). Recursive, like
 * JSON.parse's reviver: a caller that takes untrusted input checks its depth first (the local server does).
 */
export function reviveNonFinite(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (isTagged(value)) return Number(value[TAG]);
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) record[key] = reviveNonFinite(record[key]);
  return value;
}

function isTagged(v: unknown): v is Record<typeof TAG, string> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const keys = Object.keys(v);
  const text = (v as Record<string, unknown>)[TAG];
  return keys.length === 1 && (text === 'Infinity' || text === '-Infinity' || text === 'NaN');
}
