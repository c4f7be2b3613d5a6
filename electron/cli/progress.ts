/** Progress on stderr: a redrawn bar on a terminal, one line per node otherwise (logs, CI). */
import type { EngineEvent } from '../engine/events.ts';

export function createProgressPrinter(stream: NodeJS.WriteStream, quiet = false): (e: EngineEvent) => void {
  const tty = Boolean(stream.isTTY);
  let barShown = false;
  const clearBar = () => {
    if (barShown) stream.write('\r\x1b[2K');
    barShown = false;
  };
  const line = (s: string) => {
    clearBar();
    stream.write(s + '\n');
  };
  return (e) => {
    if (quiet) return;
    switch (e.type) {
      case 'node-progress': {
        if (!tty) return;
        const width = 30;
        const filled = Math.round((e.step / Math.max(1, e.total)) * width);
        stream.write(`\r\x1b[2K${e.nodeId} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${e.unit === 'percent' ? `${e.step}%` : `${e.step}/${e.total}`}`);
        barShown = true;
        return;
      }
      case 'node-cached':
        return line(`  ${e.nodeId} (${e.nodeType}): cached`);
      case 'node-finished':
        return line(`  ${e.nodeId} (${e.nodeType}): ${e.ms.toFixed(1)} ms`);
      case 'node-failed':
        return line(`  ${e.nodeId} (${e.nodeType}) FAILED: ${e.message}`);
      case 'run-finished':
        return line(`run finished in ${e.ms.toFixed(1)} ms`);
      case 'run-cancelled':
        return line(`run cancelled after ${e.ms.toFixed(1)} ms`);
      case 'run-failed':
        return line(`run failed: ${e.message}`);
      default:
        return;
    }
  };
}
