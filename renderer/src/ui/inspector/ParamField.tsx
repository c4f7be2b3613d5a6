/** Picks the widget for a param declaration and wires it to the store (one undo step per edit). */
import { useCallback, useMemo } from 'react';
import type { ParamView } from '../../graph/view-model.ts';
import { useClient, useController, useEditorStore, useSession } from '../app-context.tsx';
import { toast } from '../common/toasts.ts';
import { seedModeKey } from '../controller/session.ts';
import { BooleanField } from './fields/BooleanField.tsx';
import { EnumField } from './fields/EnumField.tsx';
import { FileField } from './fields/FileField.tsx';
import { fileListKind, useFileChoices } from './fields/use-file-choices.ts';
import { NumberField } from './fields/NumberField.tsx';
import { SeedField, type SeedMode } from './fields/SeedField.tsx';
import { TextField } from './fields/TextField.tsx';
import { fieldTestId } from './fields/types.ts';

const TYPING_KEY = 'inspector';

export function ParamField({ nodeId, view, invalid }: { nodeId: string; view: ParamView; invalid: boolean }) {
  const store = useEditorStore();
  const controller = useController();
  const { param, value } = view;
  const seedMode = useSession((s) => s.seedModes[seedModeKey(nodeId, param.name)] ?? 'fixed');

  const onChange = useCallback(
    (v: string | number | boolean) => {
      const r = store.getState().setParam(nodeId, param.name, v, { transactionKey: TYPING_KEY });
      if (!r.ok) toast.error(r.reason);
    },
    [store, nodeId, param.name],
  );
  const onCommit = useCallback(() => store.getState().sealHistory(), [store]);
  const browse = useFileChoices(param.fileKind, param.mode, param.extensions);
  const client = useClient();
  // The system's own dialog, where the app has one (desktop) and the param reads a file.
  const systemPick = useMemo(() => {
    if (!client.chooseInputFile || param.mode === 'write') return undefined;
    const kind = fileListKind(param.fileKind);
    return {
      label: kind === 'model' ? 'Model folder on this computer…' : 'Other file on this computer…',
      pick: () => client.chooseInputFile!(kind, param.extensions),
    };
  }, [client, param.mode, param.fileKind, param.extensions]);

  const common = { spec: param, nodeId, invalid, onCommit };
  let widget: React.ReactNode;
  switch (param.kind) {
    case 'int':
    case 'float':
      widget = <NumberField {...common} value={Number(value)} onChange={onChange} />;
      break;
    case 'seed':
      widget = (
        <SeedField
          {...common}
          value={Number(value)}
          onChange={onChange}
          mode={seedMode}
          onModeChange={(mode: SeedMode) =>
            controller.session.setState((s) => ({ seedModes: { ...s.seedModes, [seedModeKey(nodeId, param.name)]: mode } }))
          }
        />
      );
      break;
    case 'enum':
      widget = <EnumField {...common} value={value} onChange={onChange} />;
      break;
    case 'boolean':
      widget = <BooleanField {...common} value={value} onChange={onChange} />;
      break;
    case 'file':
      widget = <FileField {...common} value={value} onChange={onChange} browse={browse} systemPick={systemPick} />;
      break;
    default:
      widget = <TextField {...common} value={value} onChange={onChange} />;
  }

  return (
    <div className={`field${invalid ? ' invalid' : ''}${view.isDefault ? '' : ' changed'}`} data-testid={fieldTestId(nodeId, param.name, 'field')}>
      <div className="field-label-row">
        <label className="field-label" title={param.help}>
          {param.label ?? param.name}
        </label>
        {!view.isDefault && (
          <button
            type="button"
            className="field-reset"
            title={`Back to the default (${String(param.default)})`}
            data-testid={fieldTestId(nodeId, param.name, 'reset')}
            onClick={() => {
              store.getState().setParam(nodeId, param.name, undefined);
              store.getState().sealHistory();
            }}
          >
            ↺
          </button>
        )}
      </div>
      {widget}
      {param.help && <div className="field-hint">{param.help}</div>}
    </div>
  );
}
