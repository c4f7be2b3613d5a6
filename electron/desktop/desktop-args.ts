/**
 * The desktop app's command line: the same folder and memory flags as `flowstudio serve`, so `npm start --
 * --out renders` means the same in the window and in the browser. Chromium's own switches also arrive in
 * argv; flags this app does not know are left to them, not refused.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError } from '../cli/args.ts';
import { GraphFiles } from '../engine/app/graph-files.ts';
import { EDITOR_FLAGS, memoryOptions, parseEngineHostKind, type EngineHostKind } from '../cli/serve.ts';

export interface DesktopArgs {
  /** Absent: the app picks (./out when run from a checkout, Documents/FlowStudio when installed). */
  outDir?: string;
  roots: string[];
  providers?: string[];
  staticDir?: string;
  memory: ReturnType<typeof memoryOptions>;
  /** Where the engine runs (--engine): a utility process unless asked for a thread. */
  engineHost: EngineHostKind;
  /** Graph files named on the command line (a double-click on one starts the app so), absolute. */
  files: string[];
}

/** The graph files among a command line's arguments, resolved against `cwd` (flags, the app path and other files ignored). */
export function graphFilesIn(argv: readonly string[], cwd: string): string[] {
  return argv.filter((a) => !a.startsWith('-') && GraphFiles.isGraphPath(a)).map((a) => path.resolve(cwd, a));
}


/** `args`: the user's arguments, without the Electron binary and app path. Throws a UsageError on bad values. */
export function parseDesktopArgs(args: readonly string[]): DesktopArgs {
  const { values, positionals } = parseArgs({ args: [...args], options: EDITOR_FLAGS, strict: false, allowPositionals: true });
  // Not strict (Chromium's switches pass through), so a value-taking flag given without one is caught here
  // (every editor flag takes a value).
  for (const [flag, value] of Object.entries(values)) {
    if (value === true && flag in EDITOR_FLAGS) throw new UsageError(`--${flag} needs a value`);
  }
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const list = (v: unknown) => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);
  const providers = list(values.provider).flatMap((p) => p.split(','));
  return {
    outDir: str(values.out) === undefined ? undefined : path.resolve(str(values.out)!),
    roots: list(values.root).map((r) => path.resolve(r)),
    providers: providers.length ? providers : undefined,
    staticDir: str(values.static) === undefined ? undefined : path.resolve(str(values.static)!),
    memory: memoryOptions(Object.fromEntries(['max-models', 'model-memory', 'cache-memory'].map((k) => [k, str(values[k])]))),
    engineHost: parseEngineHostKind(str(values.engine)),
    files: graphFilesIn(positionals, process.cwd()),
  };
}
