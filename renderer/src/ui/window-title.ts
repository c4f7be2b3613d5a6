/**
 * The page title, which is also the desktop window's title and the browser tab's: the document's name,
 * marked while it has unsaved changes ("• name — FlowStudio"), as desktop editors do.
 */
import { useEffect } from 'react';
import { useEditor, useSession } from './app-context.tsx';

export const APP_NAME = 'FlowStudio';

export function windowTitle(name: string, unsaved: boolean): string {
  return `${unsaved ? '• ' : ''}${name.trim() || 'Untitled'} — ${APP_NAME}`;
}

export function useWindowTitle(): void {
  const name = useEditor((s) => s.doc.metadata.name);
  const dirty = useEditor((s) => s.revision !== s.savedRevision);
  const restored = useSession((s) => s.restoredUnsaved);
  useEffect(() => {
    document.title = windowTitle(name, dirty || restored);
  }, [name, dirty, restored]);
}
