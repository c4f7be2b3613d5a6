import { fieldTestId, type FieldProps } from './types.ts';

/** Prompts and other multiline strings get a growing text area; the rest a one-line input. */
export function TextField({ spec, value, nodeId, invalid, onChange, onCommit }: FieldProps) {
  const common = {
    'data-testid': fieldTestId(nodeId, spec.name),
    'aria-label': spec.label ?? spec.name,
    value: String(value),
    spellCheck: spec.multiline ? true : false,
    onBlur: onCommit,
  };
  return spec.multiline ? (
    <textarea
      {...common}
      className={`textarea${invalid ? ' invalid' : ''}`}
      rows={4}
      onChange={(e) => onChange(e.target.value)}
      onKeyDown={(e) => {
        if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) onCommit();
      }}
    />
  ) : (
    <input
      {...common}
      type="text"
      className={`text-input${invalid ? ' invalid' : ''}`}
      onChange={(e) => onChange(e.target.value)}
      onKeyDown={(e) => {
        if (e.key === 'Enter') (e.target as HTMLInputElement).blur();
      }}
    />
  );
}
