/**
 * `flowstudio` command line: the engine in-process. Exit codes: 0 ok, 1 run failed or cancelled,
 * 2 invalid graph or usage.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { Engine } from '../engine/engine.ts';
import { GraphValidationError, type GraphError } from '../engine/graph/errors.ts';
import { readGraphFile } from '../engine/graph/io.ts';
import { createDefaultRegistry } from '../../nodes/index.ts';
import { applySets, readRootsFromSets, UsageError } from './args.ts';
import { parseProviderList } from '../engine/onnx/providers.ts';
import { checkProviders, describeProviderChecks } from '../engine/onnx/provider-check.ts';
import { createProgressPrinter } from './progress.ts';
import { SERVE_USAGE, serveCommand } from './serve.ts';
import { toWireJson } from '../engine/wire-json.ts';
import type { RunSummary } from '../engine/api.ts';
import { abbreviate } from '../../nodes/core/quote.ts';

export const EXIT_OK = 0;
export const EXIT_RUN_FAILED = 1;
export const EXIT_INVALID = 2;

const USAGE = `Usage: flowstudio <command> [options]

Commands:
  run <graph> [--set nodeId.param=value ...] [--out dir] [--provider cpu|cuda|dml|coreml|webgpu]
              [--target nodeId ...] [--force] [--quiet] [--read dir ...]
      Run a graph; progress on stderr, a JSON summary on stdout. Graphs may read files next to
      the graph, in the working folder, in --read folders and at paths given with --set.
  validate <graph> [--read dir ...]
      Check a graph file: its errors, then the files it reads that are not here (looked up as run
      does), as JSON. Exit 0 when it is valid and all its files are here, 1 when files are missing.
  nodes [--json]        List the node types.
  models [--json]       List the embedded models.
  providers [--json]    Which execution providers (CUDA, DirectML, CoreML, WebGPU, CPU) this machine
                        and build have, and whether each can start.
${SERVE_USAGE}
  help                  This text.

Exit codes: 0 ok, 1 run failed or cancelled, 2 invalid graph or usage.`;

export interface CliIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WriteStream;
}

export async function main(argv: string[], io: CliIO = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'run':
        return await runCommand(rest, io);
      case 'validate':
        return await validateCommand(rest, io);
      case 'nodes':
        return await nodesCommand(rest, io);
      case 'models':
        return await modelsCommand(rest, io);
      case 'providers':
        return await providersCommand(rest, io);
      case 'serve':
        return await serveCommand(rest, io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.stdout.write(USAGE + '\n');
        return command === undefined ? EXIT_INVALID : EXIT_OK;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`flowstudio: ${e.message}\n\n${USAGE}\n`);
      return EXIT_INVALID;
    }
    if (e instanceof GraphValidationError) {
      printGraphErrors(e.errors, io);
      return EXIT_INVALID;
    }
    io.stderr.write(`flowstudio: ${e instanceof Error ? e.message : String(e)}\n`);
    return EXIT_RUN_FAILED;
  }
}

function parse(args: string[], options: ParseArgsConfig['options']) {
  try {
    const r = parseArgs({ args, options, allowPositionals: true, strict: true });
    return { values: r.values as Record<string, string | boolean | string[] | undefined>, positionals: r.positionals };
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function printGraphErrors(errors: GraphError[], io: CliIO): void {
  for (const e of errors) {
    // Param errors already open with 'node "id" (Type):'; the others get the node named here.
    const named = e.nodeId === undefined || e.message.startsWith(`node ${JSON.stringify(e.nodeId)}`);
    io.stderr.write(`error [${e.code}]${named ? '' : ` node ${JSON.stringify(e.nodeId)}`}: ${e.message}\n`);
  }
  io.stdout.write(JSON.stringify({ status: 'invalid', errors }, null, 2) + '\n');
}

function graphPath(positionals: string[]): string {
  if (positionals.length !== 1) throw new UsageError('expected exactly one graph file');
  const p = path.resolve(positionals[0]);
  if (!fs.existsSync(p)) throw new UsageError(`graph file not found: ${positionals[0]}`);
  return p;
}

/** --provider values (repeated or comma-separated), checked up front: a misspelt name is a usage error. */
function providerOption(values: string[] | undefined): string[] | undefined {
  if (values === undefined) return undefined;
  try {
    return parseProviderList(values);
  } catch (e) {
    throw new UsageError(`--provider: ${(e as Error).message}`);
  }
}

async function runCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(args, {
    set: { type: 'string', multiple: true },
    out: { type: 'string' },
    provider: { type: 'string', multiple: true },
    target: { type: 'string', multiple: true },
    force: { type: 'boolean' },
    quiet: { type: 'boolean' },
    read: { type: 'string', multiple: true },
  });
  const file = graphPath(positionals);
  const outDir = path.resolve((values.out as string | undefined) ?? 'out');
  const providers = providerOption(values.provider as string[] | undefined);
  const sets = (values.set as string[] | undefined) ?? [];
  const registry = createDefaultRegistry();
  const graphDoc = readGraphFile(file);
  const readRoots = [...graphReadRoots(file, values.read as string[] | undefined), ...readRootsFromSets(graphDoc, sets, registry)];
  const engine = new Engine({ outDir, providers, readRoots, registry });
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  try {
    const doc = applySets(graphDoc, sets, engine.registry);
    const unsubscribe = engine.subscribe(createProgressPrinter(io.stderr, Boolean(values.quiet)));
    const { summary } = await engine.execute({
      graph: doc,
      targets: values.target as string[] | undefined,
      force: Boolean(values.force),
      signal: controller.signal,
    });
    unsubscribe();
    if (summary.status === 'invalid') {
      printGraphErrors(summary.errors ?? [], io);
      return EXIT_INVALID;
    }
    if (!values.quiet) for (const warning of providerWarnings(summary)) io.stderr.write(`warning: ${warning}\n`);
    io.stdout.write(toWireJson(summary, 2) + '\n');
    return summary.status === 'finished' ? EXIT_OK : EXIT_RUN_FAILED;
  } finally {
    process.off('SIGINT', onSigint);
    await engine.dispose();
  }
}

/** Folders a graph file may read from: next to it, the working folder and --read folders (run adds --set paths). */
function graphReadRoots(file: string, read: string[] | undefined): string[] {
  return [path.dirname(file), process.cwd(), ...(read ?? []).map((d) => path.resolve(d))];
}

async function validateCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(args, { read: { type: 'string', multiple: true } });
  const file = graphPath(positionals);
  // Where `run` looks (validate takes no --set, whose paths run may also read).
  const engine = new Engine({ readRoots: graphReadRoots(file, values.read as string[] | undefined) });
  try {
    const graph = readGraphFile(file);
    const errors = await engine.validate(graph);
    if (errors.length) {
      printGraphErrors(errors, io);
      return EXIT_INVALID;
    }
    const missingFiles = await engine.checkFiles(graph);
    for (const m of missingFiles) io.stderr.write(`${m.nodeId}.${m.param} (${m.nodeType}): ${m.message}\n`);
    io.stdout.write(JSON.stringify({ status: missingFiles.length ? 'missing-files' : 'valid', file, missingFiles }, null, 2) + '\n');
    return missingFiles.length ? EXIT_RUN_FAILED : EXIT_OK;
  } finally {
    await engine.dispose();
  }
}

async function nodesCommand(args: string[], io: CliIO): Promise<number> {
  const { values } = parse(args, { json: { type: 'boolean' } });
  const engine = new Engine();
  try {
    const nodes = await engine.listNodeTypes();
    if (values.json) {
      io.stdout.write(JSON.stringify(nodes, null, 2) + '\n');
    } else {
      for (const n of nodes) {
        const ins = n.inputs.map((p) => `${p.name}:${p.type}${p.optional ? '?' : ''}`).join(', ');
        const outs = n.outputs.map((p) => `${p.name}:${p.type}`).join(', ');
        io.stdout.write(`${n.type.padEnd(16)} [${n.category}] (${ins}) -> (${outs})  ${n.title}\n`);
      }
    }
    return EXIT_OK;
  } finally {
    await engine.dispose();
  }
}

async function modelsCommand(args: string[], io: CliIO): Promise<number> {
  const { values } = parse(args, { json: { type: 'boolean' } });
  const engine = new Engine();
  try {
    const models = await engine.listModels();
    if (values.json) io.stdout.write(JSON.stringify(models, null, 2) + '\n');
    else for (const m of models) io.stdout.write(`${m.ref.padEnd(32)} ${m.kind.padEnd(12)} ${m.folder}\n  ${m.description}\n`);
    return EXIT_OK;
  } finally {
    await engine.dispose();
  }
}

async function providersCommand(args: string[], io: CliIO): Promise<number> {
  const { values } = parse(args, { json: { type: 'boolean' } });
  const checks = await checkProviders();
  if (values.json) io.stdout.write(JSON.stringify(checks, null, 2) + '\n');
  else for (const line of describeProviderChecks(checks)) io.stdout.write(line + '\n');
  return EXIT_OK;
}

/** One line per model that runs on a provider other than the first it tried: a GPU user should know. */
export function providerWarnings(summary: RunSummary): string[] {
  const lines: string[] = [];
  for (const [nodeId, ports] of Object.entries(summary.outputs)) {
    for (const v of Object.values(ports)) {
      if (v.kind !== 'model' || !v.fallbackFrom?.length) continue;
      const why = v.fallbackFrom.map((f) => `${f.provider} could not load it (${abbreviate(f.error, 200)})`).join('; ');
      lines.push(`${nodeId}: model ${v.name} runs on ${v.provider}: ${why}`);
    }
  }
  return lines;
}
