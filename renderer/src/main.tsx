/** Renderer entry: connect to the engine, start the controller, mount the editor. */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import '@xyflow/react/dist/style.css';
import './styles/app.css';
import { App, FatalScreen } from './App.tsx';
import { createEngineClient } from './engine/index.ts';
import { editorStore } from './state/use-editor.ts';
import { AppController } from './ui/controller/app-controller.ts';

const root = createRoot(document.getElementById('root')!);

try {
  const controller = new AppController(createEngineClient(), editorStore);
  root.render(
    <StrictMode>
      <App controller={controller} />
    </StrictMode>,
  );
  void controller.start();
} catch (e) {
  root.render(<FatalScreen message={e instanceof Error ? e.message : String(e)} />);
}
