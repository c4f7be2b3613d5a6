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
    throw new Error(
      `none of the execution providers ${wanted.join(', ')} is available on ${platform} (this build supports: ${supported.join(', ')})`,
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

export interface ProviderAttempt {
  provider: string;
  error: string;
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
 * Providers that failed to start in this process while a later provider loaded the same model: their
 * libraries or devices are missing, so later sessions skip them instead of failing (and logging) again.
 */
const unavailable = new Set<string>();

/** Forgets which providers failed (for tests, or after installing GPU libraries at runtime). */
export function resetUnavailableProviders(): void {
  unavailable.clear();
}

/** Creates a session on the first provider of `providers` that works. */
export async function createSessionWithFallback(
  model: string | Uint8Array,
  providers: readonly string[],
  base: ort.InferenceSession.SessionOptions = {},
): Promise<CreatedSession> {
  const known = providers.filter((p) => !unavailable.has(p));
  const order = known.length > 0 ? known : providers;
  const failed: ProviderAttempt[] = [];
  for (const provider of order) {
    try {
      const opts = sessionOptionsFor(provider, base);
      const session =
        typeof model === 'string'
          ? await ort.InferenceSession.create(model, opts)
          : await ort.InferenceSession.create(model, opts);
      for (const f of failed) unavailable.add(f.provider);
      return { session, provider, failed };
    } catch (e) {
      failed.push({ provider, error: e instanceof Error ? e.message : String(e) });
    }
  }
  const last = failed[failed.length - 1];
  throw new SessionCreateError(last ? last.error : 'no execution provider to try', failed);
}
