// GGUF v3 writer: metadata and tensor infos -> header bytes, plus the offsets
// and padding rules for the tensor data that follows. Pure: no I/O, so a
// 1 GB model can be streamed by the caller one tensor chunk at a time.
// Format: ggml/docs/gguf.md and ggml/src/gguf.cpp (the reader llama.cpp uses,
// which insists every tensor starts exactly at the previous one's padded end).

import { GgmlType, blockSize, rowBytes } from './quantize.js';

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** Metadata value types (gguf.h `enum gguf_type`). */
export enum GgufValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

export type GgufScalarType = Exclude<GgufValueType, GgufValueType.ARRAY>;

/** A typed metadata value: GGUF needs the exact width, which a JS number does not carry. */
export type GgufValue =
  | { readonly type: GgufScalarType; readonly value: number | bigint | boolean | string }
  | { readonly type: GgufValueType.ARRAY; readonly itemType: GgufScalarType; readonly items: ArrayLike<number | bigint | boolean | string> };

export const u32 = (value: number): GgufValue => ({ type: GgufValueType.UINT32, value });
export const i32 = (value: number): GgufValue => ({ type: GgufValueType.INT32, value });
export const f32 = (value: number): GgufValue => ({ type: GgufValueType.FLOAT32, value });
export const bool = (value: boolean): GgufValue => ({ type: GgufValueType.BOOL, value });
export const str = (value: string): GgufValue => ({ type: GgufValueType.STRING, value });
export const arr = (itemType: GgufScalarType, items: ArrayLike<number | bigint | boolean | string>): GgufValue => ({
  type: GgufValueType.ARRAY,
  itemType,
  items,
});

export interface GgufTensorInfo {
  readonly name: string;
  /** GGML order: shape[0] is the contiguous (row) dimension. */
  readonly shape: readonly number[];
  readonly type: GgmlType;
}

/** Named limits, as the reader enforces them (gguf.cpp, ggml.h GGML_MAX_NAME / GGML_MAX_DIMS). */
export const MAX_TENSOR_NAME_BYTES = 63;
export const MAX_DIMS = 4;

export class GgufWriteError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = this.constructor.name;
  }
}

export function tensorByteSize(info: GgufTensorInfo): number {
  const [ne0 = 1, ...rest] = info.shape;
  return rowBytes(info.type, ne0) * rest.reduce((a, b) => a * b, 1);
}

export function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

/** A growable little-endian byte buffer. */
class ByteWriter {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void { this.reserve(1); this.view.setUint8(this.length, v); this.length += 1; }
  i8(v: number): void { this.reserve(1); this.view.setInt8(this.length, v); this.length += 1; }
  u16(v: number): void { this.reserve(2); this.view.setUint16(this.length, v, true); this.length += 2; }
  i16(v: number): void { this.reserve(2); this.view.setInt16(this.length, v, true); this.length += 2; }
  u32(v: number): void { this.reserve(4); this.view.setUint32(this.length, v, true); this.length += 4; }
  i32(v: number): void { this.reserve(4); this.view.setInt32(this.length, v, true); this.length += 4; }
  f32(v: number): void { this.reserve(4); this.view.setFloat32(this.length, v, true); this.length += 4; }
  f64(v: number): void { this.reserve(8); this.view.setFloat64(this.length, v, true); this.length += 8; }
  u64(v: number | bigint): void { this.reserve(8); this.view.setBigUint64(this.length, BigInt(v), true); this.length += 8; }
  i64(v: number | bigint): void { this.reserve(8); this.view.setBigInt64(this.length, BigInt(v), true); this.length += 8; }

  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  /** GGUF string: u64 byte length, UTF-8 bytes, no terminator. */
  string(s: string): void {
    const b = textEncoder.encode(s);
    this.u64(b.length);
    this.bytes(b);
  }

  padTo(alignment: number): void {
    const n = alignUp(this.length, alignment) - this.length;
    this.reserve(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

const textEncoder = new TextEncoder();

function expectType(key: string, v: unknown, want: 'number' | 'bigint' | 'boolean' | 'string'): void {
  const ok = want === 'bigint' ? typeof v === 'bigint' || typeof v === 'number' : typeof v === want;
  if (!ok) throw new GgufWriteError(`metadata '${key}': expected a ${want}, got ${typeof v}`);
}

function writeScalar(w: ByteWriter, key: string, type: GgufScalarType, v: number | bigint | boolean | string): void {
  switch (type) {
    case GgufValueType.STRING:
      expectType(key, v, 'string');
      return w.string(v as string);
    case GgufValueType.BOOL:
      expectType(key, v, 'boolean');
      return w.u8(v ? 1 : 0);
    case GgufValueType.UINT64:
      expectType(key, v, 'bigint');
      return w.u64(v as number | bigint);
    case GgufValueType.INT64:
      expectType(key, v, 'bigint');
      return w.i64(v as number | bigint);
  }
  expectType(key, v, 'number');
  const n = v as number;
  switch (type) {
    case GgufValueType.UINT8: return w.u8(n);
    case GgufValueType.INT8: return w.i8(n);
    case GgufValueType.UINT16: return w.u16(n);
    case GgufValueType.INT16: return w.i16(n);
    case GgufValueType.UINT32: return w.u32(n);
    case GgufValueType.INT32: return w.i32(n);
    case GgufValueType.FLOAT32: return w.f32(n);
    case GgufValueType.FLOAT64: return w.f64(n);
  }
}

export interface GgufHeader {
  /** Everything before the tensor data, padded to the alignment. */
  readonly bytes: Uint8Array;
  /** Offset of each tensor's data, relative to the start of the data section. */
  readonly offsets: readonly number[];
  readonly alignment: number;
  /** Size of the data section including the padding after each tensor. */
  readonly dataBytes: number;
  /** header + data: the size of the finished file. */
  readonly fileBytes: number;
}

/**
 * Encode the header of a GGUF v3 file. `general.alignment`, when present, must be a
 * u32 power of two and is used for the data layout (as the reader does).
 */
export function encodeHeader(
  metadata: ReadonlyMap<string, GgufValue> | readonly (readonly [string, GgufValue])[],
  tensors: readonly GgufTensorInfo[],
): GgufHeader {
  const entries = [...(metadata instanceof Map ? metadata.entries() : (metadata as readonly (readonly [string, GgufValue])[]))];
  const seen = new Set<string>();
  let alignment = GGUF_DEFAULT_ALIGNMENT;
  for (const [key, v] of entries) {
    if (key.length === 0) throw new GgufWriteError('metadata key is empty');
    if (seen.has(key)) throw new GgufWriteError(`duplicate metadata key '${key}'`);
    seen.add(key);
    if (key === 'general.alignment') {
      if (v.type !== GgufValueType.UINT32) throw new GgufWriteError('general.alignment must be a u32');
      const a = v.value as number;
      if (a <= 0 || (a & (a - 1)) !== 0) throw new GgufWriteError(`general.alignment ${a} is not a power of 2`);
      alignment = a;
    }
  }

  const w = new ByteWriter();
  w.u32(GGUF_MAGIC);
  w.u32(GGUF_VERSION);
  w.u64(tensors.length);
  w.u64(entries.length);
  for (const [key, v] of entries) {
    w.string(key);
    w.u32(v.type);
    if (v.type === GgufValueType.ARRAY) {
      w.u32(v.itemType);
      w.u64(v.items.length);
      for (let i = 0; i < v.items.length; i++) writeScalar(w, key, v.itemType, v.items[i] as number | bigint | boolean | string);
    } else {
      writeScalar(w, key, v.type, v.value);
    }
  }

  const names = new Set<string>();
  const offsets: number[] = [];
  let offset = 0;
  for (const t of tensors) {
    if (names.has(t.name)) throw new GgufWriteError(`duplicate tensor name '${t.name}'`);
    names.add(t.name);
    if (textEncoder.encode(t.name).length > MAX_TENSOR_NAME_BYTES) {
      throw new GgufWriteError(`tensor name '${t.name}' is longer than ${MAX_TENSOR_NAME_BYTES} bytes`);
    }
    if (t.shape.length < 1 || t.shape.length > MAX_DIMS) {
      throw new GgufWriteError(`tensor '${t.name}' has ${t.shape.length} dimensions, expected 1..${MAX_DIMS}`);
    }
    if (t.shape.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new GgufWriteError(`tensor '${t.name}' has an invalid shape [${t.shape.join(', ')}]`);
    }
    if ((t.shape[0] as number) % blockSize(t.type) !== 0) {
      throw new GgufWriteError(`tensor '${t.name}': row of ${t.shape[0]} is not a whole number of ${GgmlType[t.type]} blocks`);
    }
    w.string(t.name);
    w.u32(t.shape.length);
    for (const d of t.shape) w.u64(d);
    w.u32(t.type);
    w.u64(offset);
    offsets.push(offset);
    offset += alignUp(tensorByteSize(t), alignment);
  }
  w.padTo(alignment);
  const bytes = w.result();
  return { bytes, offsets, alignment, dataBytes: offset, fileBytes: bytes.length + offset };
}

/** Zero bytes that bring a tensor of `size` bytes up to the alignment. */
export function tensorPadding(size: number, alignment: number): Uint8Array {
  return new Uint8Array(alignUp(size, alignment) - size);
}
