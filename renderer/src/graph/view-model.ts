/**
 * What a node shows, from its declaration and current params: which params are visible (their `when`
 * condition holds), which inputs are shown and required, and the values to display (defaults filled in).
 */
import type { ConditionDescription, NodeTypeDescription, ParamDescription, PortDescription } from '../../../electron/engine/graph/describe.ts';
import type { GraphNode, GraphParamValue } from '../../../electron/engine/graph/schema.ts';
import { portColor } from './port-colors.ts';

export interface ParamView {
  param: ParamDescription;
  value: GraphParamValue;
  /** The value is the declared default (absent from the node, or equal to it). */
  isDefault: boolean;
  visible: boolean;
}

export interface InputView {
  port: PortDescription;
  color: string;
  /** Shown at all (its `when` condition holds). */
  visible: boolean;
  /** Must be connected for a run: visible and not optional. */
  required: boolean;
  connected: boolean;
}

export interface OutputView {
  port: PortDescription;
  color: string;
}

export interface NodeViewModel {
  type: string;
  title: string;
  category: string;
  description: string;
  params: ParamView[];
  inputs: InputView[];
  outputs: OutputView[];
  /** Names of required inputs that are not connected. */
  missingInputs: string[];
  /** Params stored on the node that the declaration does not know (kept, shown as a warning). */
  unknownParams: string[];
}

export function nodeViewModel(
  desc: NodeTypeDescription,
  node: Pick<GraphNode, 'params' | 'title'>,
  connectedInputs: ReadonlySet<string> = new Set(),
): NodeViewModel {
  const { values, active } = resolvedParams(desc, node.params);
  const params = desc.params.map((param) => {
    const value = values[param.name];
    return { param, value, isDefault: value === param.default, visible: active.has(param.name) };
  });
  const inputs = desc.inputs.map((port) => {
    const visible = conditionHolds(port.when, values);
    return { port, color: portColor(port.type), visible, required: visible && !port.optional, connected: connectedInputs.has(port.name) };
  });
  return {
    type: desc.type,
    title: node.title || desc.title,
    category: desc.category,
    description: desc.description,
    params,
    inputs,
    outputs: desc.outputs.map((port) => ({ port, color: portColor(port.type) })),
    missingInputs: inputs.filter((i) => i.required && !i.connected).map((i) => i.port.name),
    unknownParams: Object.keys(node.params).filter((name) => !desc.params.some((p) => p.name === name)),
  };
}

/**
 * The values the engine runs with (nodes/core/params.ts): stored values, declared defaults for absent ones, and
 * the default for a param whose condition does not hold. A condition reads the other param's value as resolved
 * so, so chains follow (the APG settings hide with the CFG method, which hides with "settings from model").
 * `active`: the params whose conditions hold, the ones the inspector shows.
 */
export function resolvedParams(desc: NodeTypeDescription, params: Readonly<Record<string, GraphParamValue>>): { values: Record<string, GraphParamValue>; active: Set<string> } {
  const specs = new Map(desc.params.map((p) => [p.name, p]));
  const values: Record<string, GraphParamValue> = {};
  const active = new Set<string>();
  const state = new Map<string, 'resolving' | 'done'>();
  const resolve = (name: string): GraphParamValue | undefined => {
    const spec = specs.get(name);
    if (!spec) return undefined;
    if (state.get(name) === 'done') return values[name];
    // A condition chain that leads back to itself: the default, as the engine takes it.
    if (state.get(name) === 'resolving') return spec.default;
    state.set(name, 'resolving');
    const on = !spec.when || conditionHolds(spec.when, { [spec.when.param]: resolve(spec.when.param) });
    if (on) active.add(name);
    values[name] = on ? (params[name] ?? spec.default) : spec.default;
    state.set(name, 'done');
    return values[name];
  };
  for (const p of desc.params) resolve(p.name);
  return { values, active };
}

/** Stored values with declared defaults for absent ones and for params whose condition does not hold. */
export function resolvedValues(desc: NodeTypeDescription, params: Readonly<Record<string, GraphParamValue>>): Record<string, GraphParamValue> {
  return resolvedParams(desc, params).values;
}

/** Same rule as the engine (nodes/core/params.ts isConditionMet): no condition, or the value is one of `in`. */
export function conditionHolds(cond: ConditionDescription | undefined, values: Readonly<Record<string, unknown>>): boolean {
  return !cond || cond.in.some((allowed) => allowed === values[cond.param]);
}
