import { useToasts } from './toasts.ts';

/** Anchored toasts float at their point (clamped to the window); the rest stack bottom-right. */
export function Toasts() {
  const toasts = useToasts((s) => s.toasts);
  const dismiss = useToasts((s) => s.dismiss);
  const anchored = toasts.filter((t) => t.at);
  const stacked = toasts.filter((t) => !t.at);
  return (
    <>
      {anchored.map((t) => (
        <div
          key={t.id}
          role="alert"
          data-testid="toast"
          data-kind={t.kind}
          className={`toast toast-${t.kind} toast-anchored`}
          style={{
            left: Math.max(8, Math.min(t.at!.x + 14, window.innerWidth - 340)),
            top: Math.max(8, Math.min(t.at!.y + 14, window.innerHeight - 80)),
          }}
          onClick={() => dismiss(t.id)}
        >
          {t.message}
        </div>
      ))}
      <div className="toast-stack">
        {stacked.map((t) => (
          <div key={t.id} role="status" data-testid="toast" data-kind={t.kind} className={`toast toast-${t.kind}`} onClick={() => dismiss(t.id)}>
            {t.message}
          </div>
        ))}
      </div>
    </>
  );
}
