// ggml_types.ts: what the analyses need to know about GGML tensor types and
// ops without the engine's help: names (when EngineInfo.type_names is empty)
// and storage sizes (enum ggml_type, ggml/include/ggml.h; block sizes from
// ggml/src/ggml.c type_traits).

/** GGML type name and storage: `bytes` per block of `block` values. */
export interface GgmlType {
  readonly name: string;
  readonly block: number;
  readonly bytes: number;
}

const T = (name: string, block: number, bytes: number): GgmlType => ({ name, block, bytes });

/** Indexed by enum ggml_type. Removed ids are undefined. */
export const GGML_TYPES: readonly (GgmlType | undefined)[] = (() => {
  const t: (GgmlType | undefined)[] = [];
  t[0] = T('F32', 1, 4);
  t[1] = T('F16', 1, 2);
  t[2] = T('Q4_0', 32, 18);
  t[3] = T('Q4_1', 32, 20);
  t[6] = T('Q5_0', 32, 22);
  t[7] = T('Q5_1', 32, 24);
  t[8] = T('Q8_0', 32, 34);
  t[9] = T('Q8_1', 32, 36);
  t[10] = T('Q2_K', 256, 84);
  t[11] = T('Q3_K', 256, 110);
  t[12] = T('Q4_K', 256, 144);
  t[13] = T('Q5_K', 256, 176);
  t[14] = T('Q6_K', 256, 210);
  t[15] = T('Q8_K', 256, 292);
  t[16] = T('IQ2_XXS', 256, 66);
  t[17] = T('IQ2_XS', 256, 74);
  t[18] = T('IQ3_XXS', 256, 98);
  t[19] = T('IQ1_S', 256, 50);
  t[20] = T('IQ4_NL', 32, 18);
  t[21] = T('IQ3_S', 256, 110);
  t[22] = T('IQ2_S', 256, 82);
  t[23] = T('IQ4_XS', 256, 136);
  t[24] = T('I8', 1, 1);
  t[25] = T('I16', 1, 2);
  t[26] = T('I32', 1, 4);
  t[27] = T('I64', 1, 8);
  t[28] = T('F64', 1, 8);
  t[29] = T('IQ1_M', 256, 56);
  t[30] = T('BF16', 1, 2);
  t[34] = T('TQ1_0', 256, 54);
  t[35] = T('TQ2_0', 256, 66);
  t[39] = T('MXFP4', 32, 17);
  return t;
})();

/** The type's name: the engine's own table first, then ours. */
export function typeName(type: number, engineNames?: readonly string[] | null): string {
  return engineNames?.[type] || GGML_TYPES[type]?.name || `type${type}`;
}

/** Bytes a tensor of `elements` values of `type` occupies (F32 when unknown). */
export function tensorBytes(type: number, elements: number): number {
  const t = GGML_TYPES[type] ?? GGML_TYPES[0]!;
  return (elements / t.block) * t.bytes;
}

/** Ops that compute nothing (ggml_op_is_empty): they only describe a view of their source. */
export const VIEW_OPS: ReadonlySet<string> = new Set(['NONE', 'VIEW', 'RESHAPE', 'PERMUTE', 'TRANSPOSE']);
