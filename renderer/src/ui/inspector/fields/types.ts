import type { ParamDescription } from '../../../../../electron/engine/graph/describe.ts';
import type { ParamValue } from '../../common/format.ts';

/**
 * Every inspector field is controlled: `onChange` for live edits while the user drags or types (the
 * store coalesces them), `onCommit` when the edit ends (blur, Enter, pointer up) so one edit is one undo step.
 */
export interface FieldProps<V extends ParamValue = ParamValue> {
  spec: ParamDescription;
  value: V;
  nodeId: string;
  invalid?: boolean;
  onChange(value: V): void;
  onCommit(): void;
}

/** data-testid of a param's input element: `param-<nodeId>-<param>`. */
export function fieldTestId(nodeId: string, param: string, part?: string): string {
  return `param-${nodeId}-${param}${part ? `-${part}` : ''}`;
}
