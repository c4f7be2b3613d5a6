/**
 * What the desktop transport offers beyond the AppAPI: the system's own file dialogs. A file the user picks
 * there is their choice, not a path from a page, so its folder joins the graph roots (open, save back).
 * Type-only for the renderer (renderer/src/engine/bridge-client.ts).
 */
export interface DesktopAPI {
  /**
   * Shows the system's open or save dialog for graph files; resolves with the chosen path (a save path gets
   * .flowstudio when it has no graph extension), or null when the user cancelled.
   */
  chooseGraphFile(mode: 'open' | 'save', suggestedPath?: string): Promise<string | null>;
  /**
   * Shows the system's open dialog for a node's input: a file with one of `extensions` (".png"), or for
   * `kind` "model" a diffusers-ONNX model folder. Its folder becomes readable by runs. Null on cancel.
   */
  chooseInputFile(kind: 'image' | 'latent' | 'model' | 'any', extensions?: string[]): Promise<string | null>;
  /** Shows a file the app may read (an output image) selected in the system's file manager. */
  showInFolder(file: string): Promise<void>;
}

export type DesktopMethod = keyof DesktopAPI;
