/** Structured graph errors, tied to node ids, ports and params so every UI can point at the cause. */
export type GraphErrorCode =
  | 'schema' // the document is not a valid graph file (see `path`)
  | 'unsupported_version'
  | 'duplicate_id'
  | 'unknown_node_type'
  | 'unknown_port'
  | 'dangling_edge' // edge names a node that does not exist
  | 'cycle'
  | 'missing_input'
  | 'duplicate_input' // two edges into one input port
  | 'type_mismatch'
  | 'unknown_param'
  | 'param_wrong_kind'
  | 'param_out_of_range'
  | 'param_not_in_options'
  | 'unknown_target'; // a requested output node does not exist

export interface GraphError {
  code: GraphErrorCode;
  message: string;
  nodeId?: string;
  nodeType?: string;
  port?: string;
  param?: string;
  edgeId?: string;
  /** For 'schema' errors: where in the document (JSON path). */
  path?: string;
  /** For 'cycle': the node ids on the cycle, in order. */
  cycle?: string[];
}

/** Thrown when a graph cannot be run; carries every error found, not just the first. */
export class GraphValidationError extends Error {
  constructor(readonly errors: GraphError[]) {
    super(errors.length === 1 ? errors[0].message : `${errors.length} graph errors:\n- ${errors.map((e) => e.message).join('\n- ')}`);
    this.name = 'GraphValidationError';
  }
}
