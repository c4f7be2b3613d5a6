import { useEffect, useState } from 'react';

/** A text field that follows `value` (undo, other edits) and commits once, on blur or Enter; Escape reverts. */
export function CommitInput(props: { value: string; onCommit(value: string): void; className: string; testId: string; label: string; placeholder?: string }) {
  const { value, onCommit } = props;
  const [text, setText] = useState(value);
  useEffect(() => setText(value), [value]);
  return (
    <input
      className={props.className}
      data-testid={props.testId}
      aria-label={props.label}
      placeholder={props.placeholder}
      value={text}
      onChange={(e) => setText(e.target.value)}
      onBlur={() => text !== value && onCommit(text)}
      onKeyDown={(e) => {
        if (e.key === 'Enter') (e.target as HTMLInputElement).blur();
        else if (e.key === 'Escape') {
          setText(value);
          e.stopPropagation();
        }
      }}
    />
  );
}
