import { useEffect, useState } from 'react';
import { formatNumber } from '../../common/format.ts';
import { fieldTestId, type FieldProps } from './types.ts';

/**
 * A slider with numeric entry for int/float params. The slider appears when the declaration bounds both
 * ends; wide positive ranges (1..16384) move logarithmically so small values stay reachable.
 */
export function NumberField({ spec, value, nodeId, invalid, onChange, onCommit, slider = true }: FieldProps<number> & { slider?: boolean }) {
  const isInt = spec.kind === 'int' || spec.kind === 'seed';
  const [text, setText] = useState(formatNumber(value));
  const [editing, setEditing] = useState(false);
  useEffect(() => {
    if (!editing) setText(isInt ? String(value) : formatNumber(value));
  }, [value, editing, isInt]);

  const min = spec.min;
  const max = spec.max;
  const hasSlider = slider && min !== undefined && max !== undefined && Number.isFinite(min) && Number.isFinite(max) && max > min;
  const logScale = hasSlider && min! > 0 && max! / min! >= 100;
  const step = spec.step ?? (isInt ? 1 : hasSlider ? niceStep(max! - min!) : 0.01);

  const toSlider = (v: number) => (logScale ? Math.log(Math.max(v, min!)) : v);
  const fromSlider = (s: number) => {
    const v = logScale ? Math.exp(s) : s;
    return clampRound(v, min, max, isInt ? 1 : undefined);
  };

  const parsed = parseNumber(text);
  const textError =
    parsed === null
      ? 'not a number'
      : isInt && !Number.isInteger(parsed)
        ? 'must be a whole number'
        : min !== undefined && parsed < min
          ? `at least ${formatNumber(min)}`
          : max !== undefined && parsed > max
            ? `at most ${formatNumber(max)}`
            : null;

  const commitText = () => {
    setEditing(false);
    if (parsed !== null && textError === null) {
      if (parsed !== value) onChange(parsed);
      onCommit();
    } else {
      setText(formatNumber(value));
    }
  };

  return (
    <div className="field-number">
      {hasSlider && (
        <input
          type="range"
          className="slider"
          data-testid={fieldTestId(nodeId, spec.name, 'slider')}
          aria-label={`${spec.label ?? spec.name} slider`}
          min={toSlider(min!)}
          max={toSlider(max!)}
          step={logScale ? (Math.log(max!) - Math.log(min!)) / 1000 : step}
          value={toSlider(value)}
          onChange={(e) => onChange(fromSlider(Number(e.target.value)))}
          onPointerUp={onCommit}
          onKeyUp={onCommit}
        />
      )}
      <input
        type="text"
        inputMode={isInt ? 'numeric' : 'decimal'}
        className={`num-input${invalid || (editing && textError) ? ' invalid' : ''}`}
        data-testid={fieldTestId(nodeId, spec.name)}
        aria-label={spec.label ?? spec.name}
        title={editing && textError ? textError : undefined}
        value={text}
        onFocus={() => setEditing(true)}
        onChange={(e) => setText(e.target.value)}
        onBlur={commitText}
        onKeyDown={(e) => {
          if (e.key === 'Enter') (e.target as HTMLInputElement).blur();
          else if (e.key === 'Escape') {
            setText(formatNumber(value));
            setEditing(false);
            (e.target as HTMLInputElement).blur();
          } else if (e.key === 'ArrowUp' || e.key === 'ArrowDown') {
            e.preventDefault();
            const delta = (e.key === 'ArrowUp' ? 1 : -1) * step * (e.shiftKey ? 10 : 1);
            const next = clampRound((parsed ?? value) + delta, min, max, isInt ? 1 : undefined);
            setText(isInt ? String(next) : formatNumber(next));
            onChange(next);
          }
        }}
      />
      {editing && textError && <div className="field-hint error">{textError}</div>}
    </div>
  );
}

function parseNumber(text: string): number | null {
  const t = text.trim();
  if (!t) return null;
  const v = Number(t);
  return Number.isFinite(v) ? v : null;
}

function clampRound(v: number, min: number | undefined, max: number | undefined, intStep?: number): number {
  let r = intStep ? Math.round(v) : Number(v.toPrecision(6));
  if (min !== undefined) r = Math.max(min, r);
  if (max !== undefined) r = Math.min(max, r);
  return r;
}

/** A slider step of about 1/100 of the range, rounded to 1, 2 or 5 times a power of ten. */
function niceStep(range: number): number {
  const raw = range / 100;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}
