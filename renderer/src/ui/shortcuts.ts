/**
 * Keyboard shortcuts and clipboard events for the whole window. Typing in a field keeps the browser's own
 * keys (text undo, copy/paste of text); only save and run work from inside fields too. Copy and paste use
 * the DOM clipboard events, which need no permission and carry JSON between windows.
 */
import { useEffect } from 'react';
import type { AppController } from './controller/app-controller.ts';
import { noteKeyCommand } from './app-commands.ts';
import { isEditable } from './editable.ts';

export function useShortcuts(controller: AppController): void {
  useEffect(() => {
    const onKeyDown = (e: KeyboardEvent) => handleKey(controller, e);
    const onCopy = (e: ClipboardEvent) => {
      if (!canvasOwnsClipboard(e)) return;
      const text = e.type === 'cut' ? controller.cut() : controller.copy();
      if (text === null) return;
      e.clipboardData?.setData('text/plain', text);
      e.preventDefault();
    };
    const onPaste = (e: ClipboardEvent) => {
      if (!canvasOwnsClipboard(e)) return;
      e.preventDefault();
      controller.paste(e.clipboardData?.getData('text/plain') ?? null, controller.canvas?.pointerFlow() ?? undefined);
    };
    window.addEventListener('keydown', onKeyDown);
    document.addEventListener('copy', onCopy);
    document.addEventListener('cut', onCopy);
    document.addEventListener('paste', onPaste);
    return () => {
      window.removeEventListener('keydown', onKeyDown);
      document.removeEventListener('copy', onCopy);
      document.removeEventListener('cut', onCopy);
      document.removeEventListener('paste', onPaste);
    };
  }, [controller]);
}

function handleKey(controller: AppController, e: KeyboardEvent): void {
  const mod = e.ctrlKey || e.metaKey;
  const key = e.key.toLowerCase();
  const session = controller.session.getState();

  // Work everywhere, fields included.
  if (mod && key === 's') {
    e.preventDefault();
    noteKeyCommand(e.shiftKey ? 'save-as' : 'save');
    if (e.shiftKey) controller.session.setState({ dialog: { kind: 'save-as' } });
    else void controller.docs.save();
    return;
  }
  if (mod && key === 'enter') {
    e.preventDefault();
    noteKeyCommand(e.shiftKey ? 'run-to-selected' : 'run');
    if (e.shiftKey) controller.runToSelected();
    else controller.run();
    return;
  }
  if (key === 'escape') {
    if (session.palette) controller.session.setState({ palette: null });
    else if (session.dialog) controller.session.setState({ dialog: null });
    else if (!isEditable(e.target)) controller.store.getState().clearSelection();
    return;
  }
  if (isEditable(e.target) || session.dialog || session.palette) return;

  if (mod && (key === 'z' || key === 'y')) {
    e.preventDefault();
    const redo = key === 'y' || e.shiftKey;
    noteKeyCommand(redo ? 'redo' : 'undo');
    if (redo) controller.redo();
    else controller.undo();
    return;
  }
  if (mod && key === 'o') {
    e.preventDefault();
    noteKeyCommand('open');
    void controller.docs.showOpen();
    return;
  }
  if (mod && key === 'd') {
    e.preventDefault();
    noteKeyCommand('duplicate');
    controller.duplicate();
    return;
  }
  if (mod && key === 'a') {
    e.preventDefault();
    noteKeyCommand('select-all');
    controller.store.getState().selectAll();
    return;
  }
  if (mod && key === 'g') {
    e.preventDefault();
    noteKeyCommand('group');
    controller.groupSelection();
    return;
  }
  if (mod) return;
  if (key === 'delete' || key === 'backspace') {
    e.preventDefault();
    controller.deleteSelection();
  } else if (key === 'tab' && canvasHasAttention()) {
    if (controller.canvas?.openPalette()) e.preventDefault();
  } else if (key === 'f' && !e.altKey) {
    controller.canvas?.fitView();
  }
}

/** Tab adds a node only while the canvas has focus or nothing else does (so Tab still moves between controls). */
function canvasHasAttention(): boolean {
  const active = document.activeElement;
  return !active || active === document.body || !!active.closest('.canvas-wrap');
}

/** Fields, and anything the user has selected text in, keep the browser's clipboard behaviour. */
function canvasOwnsClipboard(e: ClipboardEvent): boolean {
  if (isEditable(e.target) || isEditable(document.activeElement)) return false;
  const selection = window.getSelection();
  return !selection || selection.isCollapsed;
}
