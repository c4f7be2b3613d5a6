/** Offered on start when the autosaved working graph differs from the document that opened. */
import { useController, useSession } from '../app-context.tsx';

export function RecoveryBanner() {
  const controller = useController();
  const offer = useSession((s) => s.recovery);
  if (!offer) return null;
  const when = new Date(offer.savedAt);
  const label = Number.isNaN(when.getTime()) ? offer.savedAt : when.toLocaleString();
  return (
    <div className="banner" role="alert" data-testid="recovery-banner">
      <span>
        Unsaved work from <strong>{label}</strong> ({offer.nodeCount} nodes) was found. Restore it?
      </span>
      <button type="button" className="btn btn-primary" data-testid="recovery-restore" onClick={() => controller.docs.restoreRecovery()}>
        Restore
      </button>
      <button type="button" className="btn" data-testid="recovery-discard" onClick={() => controller.docs.discardRecovery()}>
        Discard
      </button>
    </div>
  );
}
