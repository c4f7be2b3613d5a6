/** How the System dialog words one execution provider's check. */
import type { ProviderCheck, SystemInfo } from '../../../../electron/engine/api.ts';

const ORDINALS = ['first', 'second', 'third', 'fourth', 'fifth', 'sixth'];

export function describeProvider(p: ProviderCheck): { text: string; tone: 'ok' | 'warn' | 'dim' } {
  const order = p.defaultRank !== undefined ? `, tried ${ORDINALS[p.defaultRank - 1] ?? `#${p.defaultRank}`}` : '';
  switch (p.state) {
    case 'works':
      return { text: `works${order}${p.defaultRank === undefined ? ' (only when a run asks for it)' : ''}`, tone: 'ok' };
    case 'fails': {
      const why = p.kind === 'memory' ? 'out of memory' : p.kind === 'setup' ? 'its library or device is missing' : 'it refused a test model';
      return { text: `present but does not start: ${why}${order}${p.hint ? ` (${p.hint})` : ''}`, tone: 'warn' };
    }
    case 'not-installed':
      return { text: p.provider === 'cuda' ? `not installed (${p.hint ?? 'npm run setup:cuda adds it'})` : 'not in this build', tone: 'dim' };
    case 'not-on-platform':
      return { text: 'not on this platform', tone: 'dim' };
  }
}

/** Where the engine runs, and what that means when native code crashes. */
export function describeEngineHost(engine: SystemInfo['engine'] | undefined): string {
  switch (engine?.runsIn) {
    case 'process':
      return `its own process (pid ${engine.pid}): a crash there restarts the engine, the editor keeps your graph`;
    case 'thread':
      return `a worker thread of the app (pid ${engine.pid})`;
    case 'app':
      return `the app's own process (pid ${engine.pid})`;
    default:
      return 'unknown (an older engine)';
  }
}
