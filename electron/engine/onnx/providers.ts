/**
 * Execution-provider choice. ONNX Runtime throws when a listed provider cannot start instead of falling
 * back, so sessions are created one provider at a time in preference order and the first that works wins.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as ort from './ort.ts';

/** GPU first, CPU last. Names are FlowStudio's; `ortProviderName` maps them to ORT's. */
export const DEFAULT_PROVIDER_PREFERENCE: readonly string[] = Object.freeze(['cuda', 'dml', 'coreml', 'webgpu', 'cpu']);

export const KNOWN_PROVIDERS: readonly string[] = Object.freeze(['cuda', 'tensorrt', 'dml', 'coreml', 'webgpu', 'cpu']);

/** Platforms on which each provider can exist at all (others are skipped without trying). */
const PLATFORMS: Record<string, readonly NodeJS.Platform[]> = {
  cuda: ['linux', 'win32'],
  tensorrt: ['linux', 'win32'],
  dml: ['win32'],
  coreml: ['darwin'],
  webgpu: ['linux', 'win32', 'darwin'],
  cpu: ['linux', 'win32', 'darwin', 'freebsd', 'openbsd', 'sunos', 'aix', 'android'],
};

/** Provider library files that `npm run setup:cuda` adds next to ORT's binding (not bundled in the npm package). */
const PROVIDER_LIBRARIES: Record<string, string[]> = {
  cuda: ['libonnxruntime_providers_cuda.so', 'onnxruntime_providers_cuda.dll'],
  tensorrt: ['libonnxruntime_providers_tensorrt.so', 'onnxruntime_providers_tensorrt.dll'],
};

function bindingDir(): string | undefined {
  try {
    const pkg = path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
    const bin = path.join(pkg, 'bin');
    for (const napi of fs.readdirSync(bin)) {
      const dir = path.join(bin, napi, process.platform, process.arch);
      if (fs.existsSync(dir)) return dir;
    }
  } catch {
    // fall through: unknown layout
  }
  return undefined;
}

/**
 * Provider names this onnxruntime-node build can start: bundled ones, plus downloadable ones (CUDA)
 * only when their library is installed, so a default run does not try (and loudly fail) a missing one.
 */
export function supportedBackends(): string[] {
  try {
    const dir = bindingDir();
    return ort
      .listSupportedBackends()
      .filter((b) => b.bundled || !dir || (PROVIDER_LIBRARIES[b.name] ?? []).some((f) => fs.existsSync(path.join(dir, f))))
      .map((b) => b.name);
  } catch {
    return ['cpu'];
  }
}

/** Whether a provider can exist on a platform at all (CUDA on Windows and Linux, DirectML on Windows, ...). */
export function providerRunsOn(provider: string, platform: NodeJS.Platform = process.platform): boolean {
  return (PLATFORMS[provider] ?? []).includes(platform);
}

/** Parses a CLI value like "cuda,cpu" (also accepts repeated flags joined by the caller). */
export function parseProviderList(value: string | readonly string[]): string[] {
  const parts = (typeof value === 'string' ? [value] : value).flatMap((v) => v.split(','));
  const names = parts.map((p) => p.trim().toLowerCase()).filter((p) => p.length > 0);
  for (const n of names) {
    if (!KNOWN_PROVIDERS.includes(n)) {
      throw new Error(`unknown execution provider "${n}" (known: ${KNOWN_PROVIDERS.join(', ')})`);
    }
  }
  return [...new Set(names)];
}

/**
 * The providers to try, in order: the preference (default or override) filtered by platform and by
 * what this ORT build lists. An explicit list that filters to nothing is an error rather than a silent
 * CPU fallback.
 */
export function resolveProviders(
  preference: readonly string[] = DEFAULT_PROVIDER_PREFERENCE,
  env: { platform?: NodeJS.Platform; supported?: readonly string[] } = {},
): string[] {
  const platform = env.platform ?? process.platform;
  const supported = env.supported ?? supportedBackends();
  const wanted = parseProviderList(preference).filter(
    // WebGPU on Linux needs Vulkan, rarely set up for ORT: only when asked for explicitly.
    (p) => !(p === 'webgpu' && platform === 'linux' && preference === DEFAULT_PROVIDER_PREFERENCE),
  );
  if (wanted.length === 0) throw new Error('no execution provider given');
  const usable = wanted.filter((p) => (PLATFORMS[p] ?? []).includes(platform) && supported.includes(p));
  if (usable.length === 0) {
    const cudaHint = wanted.some((p) => p === 'cuda' || p === 'tensorrt') && PLATFORMS.cuda.includes(platform) && !supported.includes('cuda') ? '; npm run setup:cuda installs CUDA' : '';
    throw new Error(
      `none of the execution providers ${wanted.join(', ')} is available on ${platform} (this build supports: ${supported.join(', ')}${cudaHint}; \`flowstudio providers\` shows what this machine has)`,
    );
  }
  return usable;
}

/**
 * Session options for one provider. DirectML fails to create sessions with memory patterns on and needs
 * sequential execution; the session layer also never runs one session concurrently.
 */
export function sessionOptionsFor(
  provider: string,
  base: ort.InferenceSession.SessionOptions = {},
): ort.InferenceSession.SessionOptions {
  const opts: ort.InferenceSession.SessionOptions = { ...base, executionProviders: [provider] };
  if (provider === 'dml') {
    opts.enableMemPattern = false;
    opts.executionMode = 'sequential';
  }
  return opts;
}

/**
 * Why a provider could not create a session:
 * - setup: its library, driver or device is missing; every later model would fail the same way;
 * - memory: the device is full now (other sessions hold it); freeing memory may let it work;
 * - model: this model cannot run there (an operator, a type); other models may.
 */
export type ProviderFailureKind = 'setup' | 'memory' | 'model';

const SETUP_FAILURE =
  /backend not found|failed to load (shared )?library|loadlibrary failed|cannot open shared object|not enabled in this build|no cuda-capable device|cuda driver version is insufficient|cudaErrorNoDevice|cudaErrorInsufficientDriver|no supported adapters|failed to get a webgpu adapter|failed to create \w+executionprovider|is not in available provider names|DXGI_ERROR_UNSUPPORTED/i;
const MEMORY_FAILURE = /out of memory|not enough memory|insufficient memory|failed to allocate|allocation failed|cudaErrorMemoryAllocation|CUBLAS_STATUS_ALLOC_FAILED|CUDNN_STATUS_ALLOC_FAILED|E_OUTOFMEMORY|0x8007000e|bad_alloc/i;

/** Sorts a provider's error (creating a session, or a run) by what it says: ORT reports no codes for these. */
export function classifyProviderFailure(message: string): ProviderFailureKind {
  if (MEMORY_FAILURE.test(message)) return 'memory';
  if (SETUP_FAILURE.test(message)) return 'setup';
  return 'model';
}

export interface ProviderAttempt {
  provider: string;
  error: string;
  kind: ProviderFailureKind;
}

export interface CreatedSession {
  session: ort.InferenceSession;
  provider: string;
  /** Providers tried before the one that worked, with why they failed. */
  failed: ProviderAttempt[];
}

/** Thrown when no provider could create the session; carries every attempt. */
export class SessionCreateError extends Error {
  constructor(
    message: string,
    readonly attempts: ProviderAttempt[],
  ) {
    super(message);
    this.name = 'SessionCreateError';
  }
}

/**
 * Providers that could not start in this process (a setup failure) while a later provider loaded the same
 * model: their libraries or devices are missing, so later sessions skip them instead of failing (and
 * logging) again. A provider that was out of memory, or could not run one model, is tried again next time:
 * skipping it would put every later model on the CPU.
 */
const unavailable = new Set<string>();

/** Forgets which providers failed (for tests, or after installing GPU libraries at runtime). */
export function resetUnavailableProviders(): void {
  unavailable.clear();
}

export interface CreateSessionHooks {
  /**
   * Called when a provider is out of memory: free what can be freed (idle sessions) and say whether anything
   * was, in which case that provider is tried once more before falling back.
   */
  onOutOfMemory?: () => boolean | Promise<boolean>;
  /** Creates one session (tests stand in for devices this machine lacks). Default: ORT's. */
  create?: (model: string | Uint8Array, options: ort.InferenceSession.SessionOptions) => Promise<ort.InferenceSession>;
}

function ortCreate(model: string | Uint8Array, options: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> {
  return typeof model === 'string' ? ort.InferenceSession.create(model, options) : ort.InferenceSession.create(model, options);
}

/** Creates a session on the first provider of `providers` that works. */
export async function createSessionWithFallback(
  model: string | Uint8Array,
  providers: readonly string[],
  base: ort.InferenceSession.SessionOptions = {},
  hooks: CreateSessionHooks = {},
): Promise<CreatedSession> {
  const create = hooks.create ?? ortCreate;
  const known = providers.filter((p) => !unavailable.has(p));
  const order = known.length > 0 ? known : providers;
  const failed: ProviderAttempt[] = [];
  for (const provider of order) {
    for (let attempt = 0; ; attempt++) {
      try {
        const session = await create(model, sessionOptionsFor(provider, base));
        for (const f of failed) if (f.kind === 'setup') unavailable.add(f.provider);
        return { session, provider, failed: failed.filter((f) => f.provider !== provider) };
      } catch (e) {
        const error = e instanceof Error ? e.message : String(e);
        const kind = classifyProviderFailure(error);
        failed.push({ provider, error, kind });
        // Out of memory: once, after the pool frees its idle sessions, before settling for a slower provider.
        if (kind === 'memory' && attempt === 0 && hooks.onOutOfMemory && (await hooks.onOutOfMemory())) continue;
        break;
      }
    }
  }
  const last = failed[failed.length - 1];
  throw new SessionCreateError(last ? last.error : 'no execution provider to try', failed);
}
