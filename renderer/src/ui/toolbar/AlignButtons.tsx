import type { AlignMode } from '../../graph/align.ts';
import { useController } from '../app-context.tsx';

const BUTTONS: { mode: AlignMode; icon: string; label: string }[] = [
  { mode: 'left', icon: '⇤', label: 'Align left edges' },
  { mode: 'center-x', icon: '↔', label: 'Align centres horizontally' },
  { mode: 'right', icon: '⇥', label: 'Align right edges' },
  { mode: 'top', icon: '⤒', label: 'Align top edges' },
  { mode: 'center-y', icon: '↕', label: 'Align centres vertically' },
  { mode: 'bottom', icon: '⤓', label: 'Align bottom edges' },
  { mode: 'distribute-x', icon: '⋯', label: 'Distribute horizontally' },
  { mode: 'distribute-y', icon: '⋮', label: 'Distribute vertically' },
];

export function AlignButtons() {
  const controller = useController();
  return (
    <div className="align-buttons" role="group" aria-label="Align">
      {BUTTONS.map((b) => (
        <button key={b.mode} type="button" className="icon-btn" title={b.label} aria-label={b.label} data-testid={`align-${b.mode}`} onClick={() => controller.align(b.mode)}>
          {b.icon}
        </button>
      ))}
    </div>
  );
}
