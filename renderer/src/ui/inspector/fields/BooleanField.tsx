import { fieldTestId, type FieldProps } from './types.ts';

export function BooleanField({ spec, value, nodeId, onChange, onCommit }: FieldProps) {
  return (
    <label className="switch">
      <input
        type="checkbox"
        data-testid={fieldTestId(nodeId, spec.name)}
        aria-label={spec.label ?? spec.name}
        checked={Boolean(value)}
        onChange={(e) => {
          onChange(e.target.checked);
          onCommit();
        }}
      />
      <span className="switch-track" />
    </label>
  );
}
