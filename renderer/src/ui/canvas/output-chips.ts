/**
 * The chips a node shows for what it produced: metrics and numbers, and where a model runs. A model on a
 * later provider than the first it tried is flagged, with the refusals for its tooltip. Tensors are left
 * to the output panel.
 */
import type { ValueSummary } from '../../../../electron/engine/summary.ts';
import { abbreviate } from '../../../../nodes/core/quote.ts';
import { formatNumber } from '../common/format.ts';

export interface OutputChip {
  key: string;
  text: string;
  /** Set when the value deserves a second look; the text of its tooltip. */
  warn?: string;
}

export function outputChips(outputs: Record<string, ValueSummary>): OutputChip[] {
  const chips: OutputChip[] = [];
  for (const [port, v] of Object.entries(outputs)) {
    if (v.kind === 'metrics') for (const [k, x] of Object.entries(v.values)) chips.push({ key: `${port}.${k}`, text: `${k} ${formatNumber(x)}` });
    else if (v.kind === 'scalar' && typeof v.value === 'number') chips.push({ key: port, text: `${port} ${formatNumber(v.value)}` });
    else if (v.kind === 'model' && v.provider) {
      const refused = v.fallbackFrom ?? [];
      if (!refused.length) chips.push({ key: port, text: `on ${v.provider}` });
      else {
        chips.push({
          key: port,
          text: `on ${v.provider} (${refused.map((f) => f.provider).join(', ')} refused)`,
          warn: refused.map((f) => `${f.provider} could not load this model: ${abbreviate(f.error, 300)}`).join('\n'),
        });
      }
    }
  }
  return chips;
}
