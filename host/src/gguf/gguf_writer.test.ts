import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gguf } from '@huggingface/gguf';
import { afterAll, describe, expect, it } from 'vitest';
import {
  GgufTensorInfo, GgufValue, GgufValueType, GgufWriteError, arr, bool, encodeHeader, f32, i32, str, tensorByteSize,
  tensorPadding, u32,
} from './gguf_writer.js';
import { GgmlType, encodeF32 } from './quantize.js';

const dir = mkdtempSync(join(tmpdir(), 'gguf-writer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Header + each tensor's bytes and padding: a complete file. */
function buildFile(metadata: [string, GgufValue][], tensors: { info: GgufTensorInfo; data: Uint8Array }[]): Uint8Array {
  const header = encodeHeader(metadata, tensors.map((t) => t.info));
  const parts = [header.bytes];
  for (const t of tensors) parts.push(t.data, tensorPadding(t.data.length, header.alignment));
  const out = Buffer.concat(parts);
  expect(out.length).toBe(header.fileBytes);
  return out;
}

describe('encodeHeader', () => {
  it('writes the v3 layout byte for byte', () => {
    const h = encodeHeader([['a', u32(7)]], [{ name: 't', shape: [2], type: GgmlType.F32 }]);
    const expected =
      '47475546' + //           magic "GGUF"
      '03000000' + //           version 3
      '0100000000000000' + //   1 tensor
      '0100000000000000' + //   1 key/value
      '0100000000000000' + '61' + // key "a" (u64 length + bytes)
      '04000000' + '07000000' + //   type UINT32, value 7
      '0100000000000000' + '74' + // tensor name "t"
      '01000000' + //           n_dims 1
      '0200000000000000' + //   ne[0] = 2
      '00000000' + //           type F32
      '0000000000000000'; //    offset 0
    // 77 bytes of header, then zero padding to the 32-byte alignment.
    expect(hex(h.bytes)).toBe(expected + '00'.repeat(96 - expected.length / 2));
    expect(h.offsets).toEqual([0]);
    expect(h.dataBytes).toBe(32);
    expect(h.fileBytes).toBe(128);
  });

  it('is read back by an independent parser (@huggingface/gguf)', async () => {
    const t1 = { info: { name: 'a.weight', shape: [3], type: GgmlType.F32 }, data: encodeF32(Float32Array.of(1, 2, 3)) };
    const t2 = { info: { name: 'b.weight', shape: [32, 2, 3], type: GgmlType.Q8_0 }, data: new Uint8Array(6 * 34) };
    const file = join(dir, 'roundtrip.gguf');
    writeFileSync(
      file,
      buildFile(
        [
          ['general.architecture', str('llama')],
          ['general.alignment', u32(64)],
          ['x.f32', f32(0.5)],
          ['x.i32', i32(-3)],
          ['x.bool', bool(true)],
          ['x.u64', { type: GgufValueType.UINT64, value: 2n ** 40n }],
          ['x.strings', arr(GgufValueType.STRING, ['<unk>', '\u2581the', ''])],
          ['x.floats', arr(GgufValueType.FLOAT32, Float32Array.of(-1, 0.25))],
          ['x.ints', arr(GgufValueType.INT32, Int32Array.of(1, 6))],
        ],
        [t1, t2],
      ),
    );
    const r = await gguf(file, { allowLocalFile: true, typedMetadata: true });
    const md = r.metadata as Record<string, unknown>; // the reader types only known keys
    expect(md.version).toBe(3);
    expect(md['general.architecture']).toBe('llama');
    expect(r.typedMetadata['general.alignment']).toEqual({ value: 64, type: GgufValueType.UINT32 });
    expect(md['x.f32']).toBe(0.5);
    expect(md['x.i32']).toBe(-3);
    expect(md['x.bool']).toBe(true);
    expect(md['x.u64']).toBe(2n ** 40n);
    expect(md['x.strings']).toEqual(['<unk>', '\u2581the', '']);
    expect(md['x.floats']).toEqual([-1, 0.25]);
    expect(md['x.ints']).toEqual([1, 6]);
    expect(r.tensorInfos).toEqual([
      { name: 'a.weight', n_dims: 1, shape: [3n], dtype: GgmlType.F32, offset: 0n },
      // 12 bytes padded to the 64-byte alignment
      { name: 'b.weight', n_dims: 3, shape: [32n, 2n, 3n], dtype: GgmlType.Q8_0, offset: 64n },
    ]);
    expect(Number(r.tensorDataOffset) % 64).toBe(0);
  });

  it('sizes tensors by their blocks', () => {
    expect(tensorByteSize({ name: 'q', shape: [64, 3, 2], type: GgmlType.Q8_0 })).toBe(2 * 34 * 6);
    expect(tensorByteSize({ name: 'h', shape: [5], type: GgmlType.F16 })).toBe(10);
  });

  it.each<[string, [string, GgufValue][], GgufTensorInfo[], RegExp]>([
    ['duplicate keys', [['k', u32(1)], ['k', u32(2)]], [], /duplicate metadata key 'k'/],
    ['an empty key', [['', u32(1)]], [], /key is empty/],
    ['a non-u32 alignment', [['general.alignment', i32(32)]], [], /must be a u32/],
    ['an alignment that is not a power of 2', [['general.alignment', u32(48)]], [], /not a power of 2/],
    ['a value of the wrong JS type', [['k', str(5 as unknown as string)]], [], /'k': expected a string/],
    ['duplicate tensors', [], [{ name: 't', shape: [1], type: GgmlType.F32 }, { name: 't', shape: [1], type: GgmlType.F32 }], /duplicate tensor name 't'/],
    ['a 64-byte tensor name', [], [{ name: 'n'.repeat(64), shape: [1], type: GgmlType.F32 }], /longer than 63 bytes/],
    ['5 dimensions', [], [{ name: 't', shape: [1, 1, 1, 1, 1], type: GgmlType.F32 }], /5 dimensions/],
    ['a zero dimension', [], [{ name: 't', shape: [4, 0], type: GgmlType.F32 }], /invalid shape \[4, 0\]/],
    ['a partial Q8_0 block', [], [{ name: 't', shape: [40], type: GgmlType.Q8_0 }], /not a whole number of Q8_0 blocks/],
  ])('rejects %s', (_what, md, tensors, message) => {
    expect(() => encodeHeader(md, tensors)).toThrow(GgufWriteError);
    expect(() => encodeHeader(md, tensors)).toThrow(message);
  });
});
