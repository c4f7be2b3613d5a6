/** The static flow shift param that Schedule and Model Sampling both offer (one spec, one meaning). */
import type { FloatParam } from './types.ts';

export const FLOW_SHIFT_PARAM = {
  kind: 'float',
  default: 0,
  min: 0,
  max: 100,
  step: 0.05,
  label: 'Shift (flow)',
  help: "Flow models: a static time shift s (SD3 uses 3) replacing the config's shift and dynamic shifting; 0 = the config's",
} as const satisfies FloatParam;
