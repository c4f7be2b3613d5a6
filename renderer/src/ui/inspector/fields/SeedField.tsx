import { NumberField } from './NumberField.tsx';
import { fieldTestId, type FieldProps } from './types.ts';

export type SeedMode = 'fixed' | 'randomize';

/** A fresh seed in the declared range (0 .. max), from the platform's CSPRNG. */
export function randomSeed(max = 2 ** 32 - 1): number {
  const buf = new Uint32Array(1);
  crypto.getRandomValues(buf);
  return buf[0] % (Math.floor(max) + 1);
}

/**
 * Seed entry with a dice button and a fixed / randomize toggle. In "randomize" mode the app draws a new
 * seed before every run (the value used is stored in the graph, so the run stays reproducible).
 */
export function SeedField(props: FieldProps<number> & { mode: SeedMode; onModeChange(mode: SeedMode): void }) {
  const { spec, nodeId, mode, onModeChange, onChange, onCommit } = props;
  return (
    <div className="field-seed">
      <NumberField {...props} spec={{ ...spec, min: spec.min ?? 0 }} slider={false} />
      <div className="seed-actions">
        <button
          type="button"
          className="btn btn-small"
          data-testid={fieldTestId(nodeId, spec.name, 'randomize')}
          title="New random seed"
          onClick={() => {
            onChange(randomSeed(spec.max));
            onCommit();
          }}
        >
          New seed
        </button>
        <div className="segmented" role="radiogroup" aria-label="Seed mode">
          {(['fixed', 'randomize'] as const).map((m) => (
            <button
              key={m}
              type="button"
              role="radio"
              aria-checked={mode === m}
              className={mode === m ? 'active' : ''}
              data-testid={fieldTestId(nodeId, spec.name, `mode-${m}`)}
              title={m === 'fixed' ? 'Keep this seed between runs' : 'Draw a new seed before every run'}
              onClick={() => onModeChange(m)}
            >
              {m === 'fixed' ? 'Fixed' : 'Random each run'}
            </button>
          ))}
        </div>
      </div>
    </div>
  );
}
