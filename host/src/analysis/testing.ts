// testing.ts: builds small traces by hand for the analysis tests (encoded
// with the generated types, then read back through the real decoder).
import { Trace, type v1 } from '../proto.js';
import { splitTrace } from '../decode/stream_reader.js';
import { traceModelFromPackets, type TraceModel } from './trace_model.js';

/** enum ggml_op values used by the tests (ggml.h order, as EngineInfo.op_names). */
export const OP_NAMES = [
  'NONE', 'DUP', 'ADD', 'ADD_ID', 'ADD1', 'ACC', 'SUB', 'MUL', 'DIV', 'SQR', 'SQRT', 'LOG', 'SIN', 'COS', 'SUM', 'SUM_ROWS',
  'MEAN', 'ARGMAX', 'COUNT_EQUAL', 'REPEAT', 'REPEAT_BACK', 'CONCAT', 'SILU_BACK', 'NORM', 'RMS_NORM', 'RMS_NORM_BACK',
  'GROUP_NORM', 'L2_NORM', 'MUL_MAT', 'MUL_MAT_ID', 'OUT_PROD', 'SCALE', 'SET', 'CPY', 'CONT', 'RESHAPE', 'VIEW',
  'PERMUTE', 'TRANSPOSE', 'GET_ROWS',
] as const;
export const op = (name: (typeof OP_NAMES)[number]): number => OP_NAMES.indexOf(name);

/** Encodes packets as a trace file and reads it back into the model. */
export function modelOf(packets: readonly v1.ITracePacket[]): TraceModel {
  const bytes = Trace.encode({ packet: [...packets] }).finish();
  const { packets: raw, error } = splitTrace(bytes);
  if (error) throw error;
  return traceModelFromPackets(raw);
}

export function traceBytes(packets: readonly v1.ITracePacket[]): Uint8Array {
  return Trace.encode({ packet: [...packets] }).finish();
}

export const engine = (pid = 1): v1.ITracePacket => ({ engine: { pid, opNames: [...OP_NAMES] } });

export const strings = (names: readonly string[]): v1.ITracePacket => ({
  interned: { strings: names.map((str, i) => ({ iid: i + 1, str })) },
});

/** A NodeEventBatch from absolute rows; it computes the delta column. */
export function batch(
  graphId: number,
  tid: number,
  startNs: number,
  rows: readonly { node: number; compute: number; barrier: number; fused?: number }[],
  ith = 0,
): v1.ITracePacket {
  let prev = 0;
  // Plain numbers for the 64-bit fields: protobufjs encodes them as it does Longs.
  const nodeEvents = {
      pid: 1,
      tid,
      graphId,
      startNs,
      threadIndex: ith,
      nodeIndexDelta: rows.map((r) => {
        const d = r.node - prev;
        prev = r.node;
        return d;
      }),
      computeNs: rows.map((r) => r.compute),
      barrierNs: rows.map((r) => r.barrier),
      fused: rows.some((r) => r.fused) ? rows.map((r) => r.fused ?? 0) : [],
  };
  return { nodeEvents: nodeEvents as unknown as v1.INodeEventBatch };
}
