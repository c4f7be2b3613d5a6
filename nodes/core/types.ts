/**
 * The node declaration: written once per node type, it drives connection validation, param
 * validation, the cache key, the UI inspector and `flowstudio nodes --json`.
 */
import type { Tensor } from './tensor.ts';
import type { ModelHandle, PortType, PortValueMap } from './values.ts';

/** A condition on another param's value: the port/param applies only when it holds. */
export interface Condition {
  param: string;
  /** Applies when the param equals one of these values. */
  in: readonly (string | number | boolean)[];
}

interface ParamBase {
  label?: string;
  help?: string;
  /** Shown, validated and required only when this holds. */
  when?: Condition;
}

export interface IntParam extends ParamBase {
  kind: 'int';
  default: number;
  min?: number;
  max?: number;
  step?: number;
}
export interface FloatParam extends ParamBase {
  kind: 'float';
  default: number;
  min?: number;
  max?: number;
  step?: number;
}
export interface BooleanParam extends ParamBase {
  kind: 'boolean';
  default: boolean;
}
export interface StringParam extends ParamBase {
  kind: 'string';
  default: string;
  multiline?: boolean;
}
export interface EnumParam<O extends string = string> extends ParamBase {
  kind: 'enum';
  options: readonly O[];
  default: O;
}
/** A random seed: an integer in [0, 2^32). Nodes that draw random numbers take one, so caching stays truthful. */
export interface SeedParam extends ParamBase {
  kind: 'seed';
  default: number;
}
/** A path the node reads or writes; checked against the allowed roots by the engine. */
export interface FileParam extends ParamBase {
  kind: 'file';
  default: string;
  /** What it points at, for the file picker and for path checks. */
  fileKind: 'model' | 'image' | 'latent' | 'any';
  mode: 'read' | 'write';
  /** Accepted extensions, lower case with dot (e.g. ['.png']). */
  extensions?: readonly string[];
  /** Empty string allowed (the node then uses a default). */
  optional?: boolean;
}

export type ParamSpec = IntParam | FloatParam | BooleanParam | StringParam | EnumParam | SeedParam | FileParam;
export type ParamKind = ParamSpec['kind'];

export type ParamValue<S extends ParamSpec> = S extends IntParam | FloatParam | SeedParam
  ? number
  : S extends BooleanParam
    ? boolean
    : S extends EnumParam<infer O>
      ? O
      : string;

export interface InputSpec {
  type: PortType;
  label?: string;
  help?: string;
  /** An optional input may stay unconnected; execute() then receives undefined. */
  optional?: boolean;
  /** Connected/required only when this holds. */
  when?: Condition;
}

export interface OutputSpec {
  type: PortType;
  label?: string;
  help?: string;
}

export type InputSpecs = Record<string, InputSpec>;
export type OutputSpecs = Record<string, OutputSpec>;
export type ParamSpecs = Record<string, ParamSpec>;

export type InputValues<I extends InputSpecs> = {
  [K in keyof I]: I[K]['optional'] extends true ? PortValueMap[I[K]['type']] | undefined : PortValueMap[I[K]['type']];
};
export type OutputValues<O extends OutputSpecs> = { [K in keyof O]: PortValueMap[O[K]['type']] };
export type ParamValues<P extends ParamSpecs> = { [K in keyof P]: ParamValue<P[K]> };

/** Loads models for nodes; the engine implements it over the ONNX session pool. */
export interface ModelService {
  /** Opens a diffusers-ONNX folder, a single .onnx (with sidecar JSON), or an embedded model by name ("embedded:<name>"). */
  load(ref: string, signal?: AbortSignal): Promise<ModelHandle>;
  /** A cheap stamp (size + mtime of the files, or embedded version) that changes when the model on disk does. */
  stamp(ref: string): Promise<string>;
}

/** Resolves and checks paths that come from graph params. */
export interface FileService {
  /** An existing file to read; throws a clear error when outside the allowed roots or missing. */
  resolveRead(path: string): string;
  /** A path to write; relative paths land in the run's output folder. Creates parent folders. */
  resolveWrite(path: string): string;
  /** The run's output folder. */
  readonly outDir: string;
}

export interface ExecContext {
  readonly nodeId: string;
  readonly nodeType: string;
  /** Aborts when the run is cancelled: check it between model calls and inside loops. */
  readonly signal: AbortSignal;
  readonly models: ModelService;
  readonly files: FileService;
  /** The graph document being run (SaveImage embeds it). */
  readonly graph: unknown;
  /**
   * Reports step i of n inside the node, optionally with a preview tensor (e.g. predicted x0). A function
   * is called only when a preview is actually sent (they are rate-limited), for previews that cost work.
   * Unit 'percent': step of total = 100 is the share done, for work with no step count (an adaptive solver).
   */
  progress(step: number, total: number, preview?: Tensor | (() => Tensor | undefined), unit?: ProgressUnit): void;
  /** Throws an AbortError when the run was cancelled. */
  throwIfAborted(): void;
}

/** What a node's progress counts: its steps, or percent of its work. */
export type ProgressUnit = 'steps' | 'percent';

export interface NodeDefinition<
  I extends InputSpecs = InputSpecs,
  O extends OutputSpecs = OutputSpecs,
  P extends ParamSpecs = ParamSpecs,
> {
  /** Stable id used in graph files, e.g. "Sampler". */
  type: string;
  /** Bumped when outputs for the same inputs/params change: part of the cache key. */
  version: number;
  title: string;
  category: string;
  description: string;
  inputs: I;
  outputs: O;
  params: P;
  /**
   * Params the node no longer has, each with the reason: a graph that still sets one loads, and the value
   * is ignored (the reason says where its effect went), so older files keep running.
   */
  retiredParams?: Readonly<Record<string, string>>;
  /**
   * 'pure' (default): output depends only on type, version, params and inputs, so it is cached.
   * 'side-effect': writes files or similar; re-executed whenever it is requested.
   */
  kind?: 'pure' | 'side-effect';
  /** Extra cache-key material from outside the graph (e.g. a model file's stamp). */
  cacheSalt?(params: ParamValues<P>, ctx: Pick<ExecContext, 'models' | 'files'>): Promise<string> | string;
  execute(ctx: ExecContext, inputs: InputValues<I>, params: ParamValues<P>): Promise<OutputValues<O>>;
}

/** Identity helper that keeps the literal types of a declaration so execute() is fully typed. */
export function defineNode<const I extends InputSpecs, const O extends OutputSpecs, const P extends ParamSpecs>(
  def: NodeDefinition<I, O, P>,
): NodeDefinition<I, O, P> {
  return def;
}

/** A node definition with its generic parameters erased, as stored in the registry. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyNodeDefinition = NodeDefinition<any, any, any>;

/** Error thrown by a node for bad input; the executor reports it with the node id and type. */
export class NodeInputError extends Error {
  constructor(
    message: string,
    readonly port?: string,
  ) {
    super(message);
    this.name = 'NodeInputError';
  }
}
