/**
 * "Why does my model run on the CPU?": each execution provider FlowStudio knows, whether this platform and
 * this onnxruntime build have it, and whether it can really create a session (tried on a one-node model).
 * `flowstudio providers` prints it.
 */
import { GraphBuilder } from './builder.ts';
import type { ProviderCheck, ProviderState } from '../api.ts';
import { providerHint } from './provider-hints.ts';
import { classifyProviderFailure, createSessionWithFallback, DEFAULT_PROVIDER_PREFERENCE, KNOWN_PROVIDERS, providerRunsOn, resolveProviders, supportedBackends } from './providers.ts';

/** A model every provider can run: out = Identity(x). */
function probeModel(): Uint8Array {
  const g = new GraphBuilder('provider-probe');
  const x = g.input('x', 'float32', [1]);
  g.op('Identity', [x], {}, 'out');
  g.output('out', 'float32', [1]);
  return g.toBytes();
}

export async function checkProviders(): Promise<ProviderCheck[]> {
  const inBuild = supportedBackends();
  const byDefault = resolveProviders(DEFAULT_PROVIDER_PREFERENCE, { supported: inBuild });
  const model = probeModel();
  const checks: ProviderCheck[] = [];
  for (const provider of KNOWN_PROVIDERS) {
    const rank = byDefault.indexOf(provider);
    const base = { provider, ...(rank >= 0 ? { defaultRank: rank + 1 } : {}) };
    if (!providerRunsOn(provider)) checks.push({ ...base, state: 'not-on-platform' });
    else if (!inBuild.includes(provider)) checks.push({ ...base, state: 'not-installed' });
    else {
      try {
        const { session } = await createSessionWithFallback(model, [provider], { logSeverityLevel: 4 });
        await session.release();
        checks.push({ ...base, state: 'works' });
      } catch (e) {
        const error = e instanceof Error ? e.message : String(e);
        checks.push({ ...base, state: 'fails', error, kind: classifyProviderFailure(error) });
      }
    }
  }
  for (const check of checks) {
    const hint = providerHint(check, process.platform);
    if (hint) check.hint = hint;
  }
  return checks;
}

/** One line per provider, for a terminal. */
export function describeProviderChecks(checks: readonly ProviderCheck[]): string[] {
  const why: Record<ProviderState, string> = {
    works: 'works',
    fails: 'in this build, but could not start',
    'not-on-platform': `not available on ${process.platform}`,
    'not-installed': 'not installed in this onnxruntime-node build',
  };
  return checks.map((c) => {
    const order = c.defaultRank !== undefined ? `tried ${ordinal(c.defaultRank)} by default` : c.state === 'works' || c.state === 'fails' ? 'only with --provider' : '';
    const hint = c.hint ? ` (${c.hint})` : '';
    return `${c.provider.padEnd(9)} ${why[c.state]}${hint}${c.error ? `: ${gist(c.error)}` : ''}${order ? ` [${order}]` : ''}`;
  });
}

/** ORT's messages start with a source location and a C++ signature and end with the reason: keep the end. */
function gist(error: string): string {
  const text = error.trim().replace(/\s+/g, ' ');
  return text.length > 160 ? `…${text.slice(-160)}` : text;
}

function ordinal(n: number): string {
  return n === 1 ? '1st' : n === 2 ? '2nd' : n === 3 ? '3rd' : `${n}th`;
}
