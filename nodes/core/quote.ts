/**
 * Text from a graph or a file inside a message, cut to its start when long: a graph may hold megabytes in one
 * string, and every message that quoted one whole was that long.
 */

/** The text itself, or its first `max - 20` characters and its length. */
export function abbreviate(s: string, max = 80): string {
  return s.length > max ? `${s.slice(0, max - 20)}… (${s.length} characters)` : s;
}

/** The text in double quotes (JSON escapes), or its first `max - 20` characters quoted, and its length. */
export function quoted(s: string, max = 120): string {
  return s.length > max ? `${JSON.stringify(s.slice(0, max - 20))}… (${s.length} characters)` : JSON.stringify(s);
}
