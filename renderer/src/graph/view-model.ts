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
  const values = resolvedValues(desc, node.params);
  const params = desc.params.map((param) => {
    const value = values[param.name];
    return { param, value, isDefault: value === param.default, visible: conditionHolds(param.when, values) };
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

/** Stored values with declared defaults for the absent ones. */
export function resolvedValues(desc: NodeTypeDescription, params: Readonly<Record<string, GraphParamValue>>): Record<string, GraphParamValue> {
  return Object.fromEntries(desc.params.map((p) => [p.name, params[p.name] ?? p.default]));
}

/** Same rule as the engine (nodes/core/params.ts isConditionMet): no condition, or the value is one of `in`. */
export function conditionHolds(cond: ConditionDescription | undefined, values: Readonly<Record<string, unknown>>): boolean {
  return !cond || cond.in.some((allowed) => allowed === values[cond.param]);
}
