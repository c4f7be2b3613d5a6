import { useEffect, useRef, useState, type ReactNode } from 'react';

/** A button that opens a small dropdown; closes on outside click, Escape, or after an item is chosen. */
export function Menu({ label, title, testId, children }: { label: ReactNode; title?: string; testId?: string; children: ReactNode }) {
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    const onDown = (e: PointerEvent) => ref.current && !ref.current.contains(e.target as Node) && setOpen(false);
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && setOpen(false);
    window.addEventListener('pointerdown', onDown);
    window.addEventListener('keydown', onKey);
    return () => {
      window.removeEventListener('pointerdown', onDown);
      window.removeEventListener('keydown', onKey);
    };
  }, [open]);
  return (
    <div className="menu" ref={ref}>
      <button type="button" className={`tb-btn${open ? ' active' : ''}`} title={title} data-testid={testId} aria-haspopup="menu" aria-expanded={open} onClick={() => setOpen((o) => !o)}>
        {label} <span className="caret">▾</span>
      </button>
      {open && (
        <div className="menu-popup" role="menu" onClick={() => setOpen(false)}>
          {children}
        </div>
      )}
    </div>
  );
}

export function MenuItem({ onClick, children, hint, testId, disabled }: { onClick(): void; children: ReactNode; hint?: string; testId?: string; disabled?: boolean }) {
  return (
    <button type="button" role="menuitem" className="menu-item" onClick={onClick} data-testid={testId} disabled={disabled}>
      <span>{children}</span>
      {hint && <kbd>{hint}</kbd>}
    </button>
  );
}
