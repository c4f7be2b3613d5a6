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

/** Where the engine runs, what that means when native code crashes, and its crashes this session. */
export function describeEngineHost(engine: SystemInfo['engine'] | undefined): string {
  const where = describeWhere(engine);
  const last = engine?.lastCrash;
  if (!engine?.crashes || !last) return where;
  const node = last.runs.find((r) => r.nodeId !== undefined);
  const at = new Date(last.at).toLocaleTimeString();
  return `${where}. Crashed ${engine.crashes === 1 ? 'once' : `${engine.crashes} times`} this session; last at ${at}: ${last.cause}${node ? ` (node ${node.nodeId}${node.nodeType ? `, ${node.nodeType}` : ''})` : ''}`;
}

function describeWhere(engine: SystemInfo['engine'] | undefined): string {
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
