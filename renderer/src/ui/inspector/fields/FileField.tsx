import { useEffect, useRef, useState } from 'react';
import { toast } from '../../common/toasts.ts';
import type { FileChoice } from './file-choices.ts';
import { fieldTestId, type FieldProps } from './types.ts';

export type { FileChoice } from './file-choices.ts';

/**
 * A path or model reference: typed directly, or picked from a list the backend provides (models it knows,
 * files of the param's kind under its allowed folders: see use-file-choices.ts). Paths are only strings here;
 * the backend checks them against its allowed roots.
 */
/** The system's own file dialog (desktop): the list's first entry. */
export interface SystemPick {
  label: string;
  /** The chosen path, or null when the user cancelled. */
  pick(): Promise<string | null>;
}

export function FileField(props: FieldProps & { browse?: () => Promise<FileChoice[]>; systemPick?: SystemPick }) {
  const { spec, value, nodeId, invalid, onChange, onCommit, browse, systemPick } = props;
  const [open, setOpen] = useState(false);
  const [choices, setChoices] = useState<FileChoice[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const boxRef = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!open || !browse) return;
    let live = true;
    setError(null);
    browse().then(
      (c) => live && setChoices(c),
      (e: unknown) => live && setError(e instanceof Error ? e.message : String(e)),
    );
    const close = (e: PointerEvent) => {
      if (boxRef.current && !boxRef.current.contains(e.target as Node)) setOpen(false);
    };
    window.addEventListener('pointerdown', close);
    return () => {
      live = false;
      window.removeEventListener('pointerdown', close);
    };
  }, [open, browse]);

  const placeholder = spec.mode === 'write' ? 'file name (relative: run output folder)' : spec.extensions?.join(', ') ?? 'path';
  return (
    <div className="field-file" ref={boxRef}>
      <div className="field-file-row">
        <input
          type="text"
          className={`text-input mono${invalid ? ' invalid' : ''}`}
          data-testid={fieldTestId(nodeId, spec.name)}
          aria-label={spec.label ?? spec.name}
          placeholder={placeholder}
          value={String(value)}
          onChange={(e) => onChange(e.target.value)}
          onBlur={onCommit}
          onKeyDown={(e) => {
            if (e.key === 'Enter') (e.target as HTMLInputElement).blur();
          }}
        />
        {browse && (
          <button
            type="button"
            className="btn btn-small"
            data-testid={fieldTestId(nodeId, spec.name, 'browse')}
            title="Browse"
            onClick={() => setOpen((o) => !o)}
          >
            Browse
          </button>
        )}
      </div>
      {open && (
        <div className="file-choices" data-testid={fieldTestId(nodeId, spec.name, 'choices')}>
          {systemPick && (
            <button
              type="button"
              className="file-choice system"
              data-testid={fieldTestId(nodeId, spec.name, 'system')}
              onClick={() => {
                setOpen(false);
                systemPick.pick().then(
                  (chosen) => {
                    if (chosen === null) return;
                    onChange(chosen);
                    onCommit();
                  },
                  (e: unknown) => toast.error(`Cannot show the file dialog: ${e instanceof Error ? e.message : String(e)}`),
                );
              }}
            >
              <span className="file-choice-label">{systemPick.label}</span>
            </button>
          )}
          {error && <div className="field-hint error">{error}</div>}
          {!error && !choices && <div className="field-hint">Loading…</div>}
          {choices?.length === 0 && <div className="field-hint">Nothing to pick from yet.</div>}
          {choices?.map((c) => (
            <button
              key={c.value}
              type="button"
              className={`file-choice${c.value === value ? ' active' : ''}`}
              data-testid="file-choice"
              title={c.value}
              onClick={() => {
                onChange(c.value);
                onCommit();
                setOpen(false);
              }}
            >
              <span className="file-choice-label">{c.label}</span>
              {c.detail && <span className="file-choice-detail">{c.detail}</span>}
            </button>
          ))}
        </div>
      )}
    </div>
  );
}
