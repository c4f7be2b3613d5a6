import { fieldTestId, type FieldProps } from './types.ts';

export function EnumField({ spec, value, nodeId, invalid, onChange, onCommit }: FieldProps) {
  const options = spec.options ?? [];
  const known = options.includes(String(value));
  return (
    <select
      className={`select${invalid || !known ? ' invalid' : ''}`}
      data-testid={fieldTestId(nodeId, spec.name)}
      aria-label={spec.label ?? spec.name}
      value={String(value)}
      onChange={(e) => {
        onChange(e.target.value);
        onCommit();
      }}
    >
      {!known && <option value={String(value)}>{String(value)} (unknown)</option>}
      {options.map((o) => (
        <option key={o} value={o}>
          {o}
        </option>
      ))}
    </select>
  );
}
