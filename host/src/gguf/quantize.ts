// Tensor encoders: float values -> the bytes GGML stores for F32, F16 and Q8_0.
// Q8_0 follows ggml's quantize_row_q8_0_ref (ggml/src/ggml-quants.c) so a file we
// write dequantizes in llama.cpp to the values we meant.

/** GGML tensor types this generator writes (numbering from ggml.h `enum ggml_type`). */
export enum GgmlType {
  F32 = 0,
  F16 = 1,
  Q8_0 = 8,
}

/** Values per Q8_0 block: one f16 scale then 32 int8 quants. */
export const Q8_0_BLOCK_SIZE = 32;
export const Q8_0_BLOCK_BYTES = 2 + Q8_0_BLOCK_SIZE;

/** Elements that share one encoded block (1 for the plain float types). */
export function blockSize(type: GgmlType): number {
  return type === GgmlType.Q8_0 ? Q8_0_BLOCK_SIZE : 1;
}

/** Bytes of one row of `ne0` elements; ne0 must be a whole number of blocks. */
export function rowBytes(type: GgmlType, ne0: number): number {
  switch (type) {
    case GgmlType.F32:
      return ne0 * 4;
    case GgmlType.F16:
      return ne0 * 2;
    case GgmlType.Q8_0:
      if (ne0 % Q8_0_BLOCK_SIZE !== 0) {
        throw new RangeError(`Q8_0 rows need a multiple of ${Q8_0_BLOCK_SIZE} elements, got ${ne0}`);
      }
      return (ne0 / Q8_0_BLOCK_SIZE) * Q8_0_BLOCK_BYTES;
  }
}

// Shared scratch for bit casts: one float32 and its raw bits.
const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE half bits for a float, rounded to nearest even (as ggml's GGML_FP32_TO_FP16). */
export function f32ToF16Bits(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0] as number;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf / NaN
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow -> Inf
  if (e <= 0) {
    // Subnormal half (or zero): shift the implicit 1 in and round.
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let h = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    if (rest > half || (rest === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++; // may carry into the exponent: still right
  return sign | h;
}

/** The float a half's bits stand for. */
export function f16BitsToF32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Little-endian F32 bytes. */
export function encodeF32(values: Float32Array): Uint8Array {
  const out = new Float32Array(values); // typed arrays are little-endian on every host we target
  return new Uint8Array(out.buffer);
}

/** Little-endian F16 bytes. */
export function encodeF16(values: Float32Array): Uint8Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32ToF16Bits(values[i] as number);
  return new Uint8Array(out.buffer);
}

/**
 * Q8_0 blocks: d = max|x| / 127 stored as f16, q = round(x / d) (half away from zero,
 * like C roundf). `out` may be passed to reuse a buffer on hot paths.
 */
export function encodeQ8_0(values: Float32Array, out?: Uint8Array): Uint8Array {
  if (values.length % Q8_0_BLOCK_SIZE !== 0) {
    throw new RangeError(`Q8_0 needs a multiple of ${Q8_0_BLOCK_SIZE} values, got ${values.length}`);
  }
  const nBlocks = values.length / Q8_0_BLOCK_SIZE;
  const bytes = out ?? new Uint8Array(nBlocks * Q8_0_BLOCK_BYTES);
  if (bytes.length < nBlocks * Q8_0_BLOCK_BYTES) throw new RangeError('Q8_0 output buffer too small');
  const qs = new Int8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  // Hot path (a 1.1B model is 34M blocks): no Math.* calls per element.
  for (let b = 0, base = 0, o = 0; b < nBlocks; b++, base += Q8_0_BLOCK_SIZE, o += Q8_0_BLOCK_BYTES) {
    let amax = 0;
    for (let j = 0; j < Q8_0_BLOCK_SIZE; j++) {
      const a = Math.abs(values[base + j] as number);
      if (a > amax) amax = a;
    }
    f32Scratch[0] = amax / 127; // d is a float in ggml: round it the same way
    const d = f32Scratch[0] as number;
    f32Scratch[0] = d !== 0 ? 1 / d : 0;
    const id = f32Scratch[0] as number;
    const h = f32ToF16Bits(d);
    bytes[o] = h & 0xff;
    bytes[o + 1] = h >>> 8;
    for (let j = 0; j < Q8_0_BLOCK_SIZE; j++) {
      // roundf (half away from zero) without Math.round, which costs ~9 ns here:
      // |x| <= 127, so floor(x + 0.5) is a truncation of a positive number after
      // an offset; only a negative exact tie then needs moving away from zero.
      const x = Math.fround((values[base + j] as number) * id);
      let r = ((x + 128.5) | 0) - 128;
      if (r - x === 0.5 && x < 0) r -= 1;
      qs[o + 2 + j] = r;
    }
  }
  return bytes.subarray(0, nBlocks * Q8_0_BLOCK_BYTES);
}

/** Inverse of encodeQ8_0, for tests and checks. */
export function decodeQ8_0(bytes: Uint8Array): Float32Array {
  if (bytes.length % Q8_0_BLOCK_BYTES !== 0) {
    throw new RangeError(`Q8_0 data must be whole ${Q8_0_BLOCK_BYTES}-byte blocks, got ${bytes.length} bytes`);
  }
  const nBlocks = bytes.length / Q8_0_BLOCK_BYTES;
  const qs = new Int8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  const out = new Float32Array(nBlocks * Q8_0_BLOCK_SIZE);
  for (let b = 0; b < nBlocks; b++) {
    const o = b * Q8_0_BLOCK_BYTES;
    const d = f16BitsToF32((bytes[o] as number) | ((bytes[o + 1] as number) << 8));
    for (let j = 0; j < Q8_0_BLOCK_SIZE; j++) out[b * Q8_0_BLOCK_SIZE + j] = d * (qs[o + 2 + j] as number);
  }
  return out;
}
