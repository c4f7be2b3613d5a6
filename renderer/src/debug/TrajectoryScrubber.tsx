/**
 * TrajectoryScrubber: walks a TRAJECTORY value step by step, showing the state x_t and the model's
 * predicted x0 at that step side by side, with the noise level sigma. A trajectory usually has one more
 * state than predictions (the final state): that last step shows no x0.
 */
import { useState, type CSSProperties } from 'react';
import type { BackendPreference } from './debug-renderer.ts';
import type { LatentDisplayOptions } from './latent-plan.ts';
import { formatValue, LatentView } from './LatentView.tsx';
import type { TensorLike } from './types.ts';

/** The TRAJECTORY port value (nodes/core/values.ts), structurally. */
export interface TrajectoryLike {
  sigmas: readonly number[];
  states: readonly TensorLike[];
  denoised: readonly TensorLike[];
}

export interface TrajectoryScrubberProps {
  trajectory: TrajectoryLike | null | undefined;
  /** Display options for both images (normalization is per frame unless a fixed range is given). */
  options?: LatentDisplayOptions;
  /** Display options for the x0 prediction only (default: `options`). */
  denoisedOptions?: LatentDisplayOptions;
  initialStep?: number;
  zoom?: number;
  backend?: BackendPreference;
  onStepChange?: (step: number) => void;
  className?: string;
  style?: CSSProperties;
}

/** Number of positions the slider has (states, or predictions if there are more of those). */
export function trajectorySteps(t: TrajectoryLike): number {
  return Math.max(t.states.length, t.denoised.length);
}

export function TrajectoryScrubber({
  trajectory, options, denoisedOptions, initialStep = 0, zoom, backend, onStepChange, className, style,
}: TrajectoryScrubberProps) {
  const steps = trajectory ? trajectorySteps(trajectory) : 0;
  const [requested, setRequested] = useState(initialStep);
  const step = Math.min(Math.max(0, requested), Math.max(0, steps - 1));
  if (!trajectory || steps === 0) {
    return (
      <div className={['fs-trajectory', className].filter(Boolean).join(' ')} style={{ fontSize: 12, opacity: 0.6, ...style }}>
        no trajectory
      </div>
    );
  }
  const sigma = trajectory.sigmas[step];
  const go = (next: number) => {
    const clamped = Math.min(Math.max(0, next), steps - 1);
    setRequested(clamped);
    onStepChange?.(clamped);
  };
  return (
    <div className={['fs-trajectory', className].filter(Boolean).join(' ')} style={style}>
      <div style={{ display: 'flex', alignItems: 'center', gap: 8, fontSize: 12 }}>
        <button type="button" aria-label="previous step" onClick={() => go(step - 1)} disabled={step === 0}>
          ◀
        </button>
        <input
          type="range"
          aria-label="step"
          min={0}
          max={steps - 1}
          step={1}
          value={step}
          onChange={(e) => go(Number(e.currentTarget.value))}
          style={{ flex: 1 }}
        />
        <button type="button" aria-label="next step" onClick={() => go(step + 1)} disabled={step === steps - 1}>
          ▶
        </button>
        <span className="fs-trajectory-readout" style={{ fontVariantNumeric: 'tabular-nums', whiteSpace: 'nowrap' }}>
          step {step} / {steps - 1} · σ = {sigma === undefined ? '—' : formatValue(sigma)}
        </span>
      </div>
      {steps === 1 && (
        <div className="fs-trajectory-hint" style={{ fontSize: 12, opacity: 0.7, marginTop: 4 }}>
          Only the end point was kept: turn on “Record trajectory” on the Sampler to keep every step.
        </div>
      )}
      <div style={{ display: 'flex', gap: 12, marginTop: 6 }}>
        <LatentView label="x_t (state)" tensor={trajectory.states[step]} options={options} zoom={zoom} backend={backend} />
        <LatentView
          label="x0 (predicted)"
          tensor={trajectory.denoised[step]}
          options={denoisedOptions ?? options}
          zoom={zoom}
          backend={backend}
        />
      </div>
    </div>
  );
}
