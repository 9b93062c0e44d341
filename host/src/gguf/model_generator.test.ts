import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gguf } from '@huggingface/gguf';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_SEED, ModelPlan, PRESETS, PRESET_NAMES, PresetName, WeightTypeName, isPresetName, isWeightTypeName,
  modelChunks, modelFileName, planModel,
} from './model_generator.js';
import { GgmlType, decodeQ8_0, f16BitsToF32, rowBytes } from './quantize.js';
import { FIRST_PIECE_ID } from './vocab.js';

const dir = mkdtempSync(join(tmpdir(), 'gguf-model-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function render(plan: ModelPlan): Buffer {
  const parts: Buffer[] = [];
  for (const c of modelChunks(plan)) parts.push(Buffer.from(c)); // copy each before the next: chunks reuse buffers
  return Buffer.concat(parts);
}

function writeModel(preset: PresetName, type: WeightTypeName, seed = DEFAULT_SEED): { path: string; plan: ModelPlan; bytes: Buffer } {
  const plan = planModel(preset, type, seed);
  const bytes = render(plan);
  const path = join(dir, modelFileName(preset, type, seed));
  writeFileSync(path, bytes);
  return { path, plan, bytes };
}

/** What llama.cpp's llama loader asks for (src/models/llama.cpp load_arch_tensors). */
function expectedTensors(p: (typeof PRESETS)[PresetName]): Map<string, number[]> {
  const kv = (p.nEmbd / p.nHead) * p.nHeadKv;
  const m = new Map<string, number[]>([
    ['token_embd.weight', [p.nEmbd, p.nVocab]],
    ['output_norm.weight', [p.nEmbd]],
    ['output.weight', [p.nEmbd, p.nVocab]],
  ]);
  for (let i = 0; i < p.nLayer; i++) {
    m.set(`blk.${i}.attn_norm.weight`, [p.nEmbd]);
    m.set(`blk.${i}.attn_q.weight`, [p.nEmbd, p.nEmbd]);
    m.set(`blk.${i}.attn_k.weight`, [p.nEmbd, kv]);
    m.set(`blk.${i}.attn_v.weight`, [p.nEmbd, kv]);
    m.set(`blk.${i}.attn_output.weight`, [p.nEmbd, p.nEmbd]);
    m.set(`blk.${i}.ffn_norm.weight`, [p.nEmbd]);
    if ('nExpert' in p) {
      m.set(`blk.${i}.ffn_gate_inp.weight`, [p.nEmbd, p.nExpert]);
      m.set(`blk.${i}.ffn_gate_exps.weight`, [p.nEmbd, p.nFf, p.nExpert]);
      m.set(`blk.${i}.ffn_up_exps.weight`, [p.nEmbd, p.nFf, p.nExpert]);
      m.set(`blk.${i}.ffn_down_exps.weight`, [p.nFf, p.nEmbd, p.nExpert]);
    } else {
      m.set(`blk.${i}.ffn_gate.weight`, [p.nEmbd, p.nFf]);
      m.set(`blk.${i}.ffn_up.weight`, [p.nEmbd, p.nFf]);
      m.set(`blk.${i}.ffn_down.weight`, [p.nFf, p.nEmbd]);
    }
  }
  return m;
}

/** The dequantized rows of one tensor, read straight from the file bytes. */
function readTensor(bytes: Buffer, plan: ModelPlan, name: string): Float32Array {
  const i = plan.tensors.findIndex((t) => t.info.name === name);
  const info = plan.tensors[i]!.info;
  const start = plan.header.bytes.length + plan.header.offsets[i]!;
  const n = info.shape.reduce((a, b) => a * b, 1);
  const raw = bytes.subarray(start, start + rowBytes(info.type, info.shape[0]!) * (n / info.shape[0]!));
  switch (info.type) {
    case GgmlType.F32:
      return new Float32Array(Uint8Array.from(raw).buffer);
    case GgmlType.F16:
      return Float32Array.from(new Uint16Array(Uint8Array.from(raw).buffer), f16BitsToF32);
    case GgmlType.Q8_0:
      return decodeQ8_0(raw);
  }
}

describe('presets', () => {
  it('keep their names: other code refers to them', () => {
    expect(PRESET_NAMES).toEqual(['tiny', 'moe', 'tinyllama-1.1b']);
    expect(isPresetName('tiny')).toBe(true);
    expect(isPresetName('toString')).toBe(false);
    expect(isWeightTypeName('q8_0')).toBe(true);
    expect(isWeightTypeName('q4_0')).toBe(false);
  });

  it.each(PRESET_NAMES)('%s has exactly the tensors the llama loader expects', (name) => {
    const plan = planModel(name, 'q8_0');
    const got = new Map(plan.tensors.map((t) => [t.info.name, [...t.info.shape]]));
    expect(got).toEqual(expectedTensors(PRESETS[name]));
    for (const t of plan.tensors) {
      const keepF32 = t.info.shape.length === 1 || t.info.name.endsWith('ffn_gate_inp.weight');
      expect(t.info.type, t.info.name).toBe(keepF32 ? GgmlType.F32 : GgmlType.Q8_0);
    }
  });

  it('gives TinyLlama-1.1B its real parameter count and a ~1.2 GB Q8_0 file', () => {
    const plan = planModel('tinyllama-1.1b', 'q8_0');
    expect(plan.parameterCount).toBe(1_100_048_384);
    expect(plan.header.fileBytes).toBeGreaterThan(1.1e9);
    expect(plan.header.fileBytes).toBeLessThan(1.25e9);
  });

  it('names files by preset, type and (non-default) seed', () => {
    expect(modelFileName('tiny', 'f16')).toBe('tiny-f16.gguf');
    expect(modelFileName('moe', 'q8_0', 42)).toBe('moe-q8_0-s42.gguf');
  });

  it('rejects bad seeds', () => {
    expect(() => planModel('tiny', 'f16', -1)).toThrow(RangeError);
    expect(() => planModel('tiny', 'f16', 1.5)).toThrow(RangeError);
  });
});

describe('generated files', () => {
  it.each<[PresetName, WeightTypeName]>([
    ['tiny', 'f16'],
    ['tiny', 'q8_0'],
    ['moe', 'q8_0'],
  ])('%s %s parses back with @huggingface/gguf', async (preset, type) => {
    const { path, plan, bytes } = writeModel(preset, type);
    const p = PRESETS[preset];
    expect(bytes.length).toBe(plan.header.fileBytes);
    const r = await gguf(path, { allowLocalFile: true, computeParametersCount: true });
    expect(r.metadata).toMatchObject({
      version: 3,
      'general.architecture': 'llama',
      'general.file_type': type === 'f16' ? 1 : 7,
      'llama.context_length': p.nCtx,
      'llama.embedding_length': p.nEmbd,
      'llama.block_count': p.nLayer,
      'llama.feed_forward_length': p.nFf,
      'llama.attention.head_count': p.nHead,
      'llama.attention.head_count_kv': p.nHeadKv,
      'llama.rope.dimension_count': p.nEmbd / p.nHead,
      'llama.vocab_size': p.nVocab,
      'tokenizer.ggml.model': 'llama',
      'tokenizer.ggml.bos_token_id': 1,
      'tokenizer.ggml.eos_token_id': 2,
    });
    const md = r.metadata as Record<string, unknown>; // the reader types only known keys
    expect(md['llama.attention.layer_norm_rms_epsilon']).toBeCloseTo(1e-5, 10);
    if ('nExpert' in p) {
      expect(md['llama.expert_count']).toBe(p.nExpert);
      expect(md['llama.expert_used_count']).toBe(p.nExpertUsed);
    }
    expect((md['tokenizer.ggml.tokens'] as string[]).length).toBe(p.nVocab);
    expect(r.parameterCount).toBe(plan.parameterCount);
    expect(r.tensorInfos.map((t) => [t.name, t.shape.map(Number), t.dtype, Number(t.offset)])).toEqual(
      plan.tensors.map((t, i) => [t.info.name, t.info.shape, t.info.type, plan.header.offsets[i]]),
    );
    expect(Number(r.tensorDataOffset)).toBe(plan.header.bytes.length);
  });

  it('has unit norms, small finite weights and silent control/byte logits', () => {
    const { plan, bytes } = writeModel('tiny', 'f16');
    expect(readTensor(bytes, plan, 'blk.0.attn_norm.weight').every((x) => x === 1)).toBe(true);
    const q = readTensor(bytes, plan, 'blk.2.attn_q.weight');
    const std = Math.sqrt(q.reduce((a, x) => a + x * x, 0) / q.length);
    expect(std).toBeGreaterThan(0.018);
    expect(std).toBeLessThan(0.022);
    expect(q.every(Number.isFinite)).toBe(true);
    const out = readTensor(bytes, plan, 'output.weight');
    const row = (r: number): Float32Array => out.subarray(r * 256, (r + 1) * 256);
    for (let r = 0; r < FIRST_PIECE_ID; r++) expect(row(r).every((x) => x === 0), `row ${r}`).toBe(true);
    for (let r = FIRST_PIECE_ID; r < 1000; r++) expect(row(r).some((x) => x !== 0), `row ${r}`).toBe(true);
  });

  it('quantizes to Q8_0 the same weights it writes as F16', () => {
    const f16 = writeModel('tiny', 'f16');
    const q8 = writeModel('tiny', 'q8_0');
    for (const name of ['token_embd.weight', 'blk.1.ffn_down.weight', 'output.weight']) {
      const a = readTensor(f16.bytes, f16.plan, name);
      const b = readTensor(q8.bytes, q8.plan, name);
      let maxErr = 0;
      for (let i = 0; i < a.length; i++) maxErr = Math.max(maxErr, Math.abs((a[i] as number) - (b[i] as number)));
      expect(maxErr, name).toBeLessThan(0.001); // half a Q8_0 step at |w| < 0.1
    }
  });

  it('is reproducible: same seed, same bytes; another seed, other bytes', () => {
    const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
    const a = sha(render(planModel('moe', 'q8_0', 5)));
    expect(sha(render(planModel('moe', 'q8_0', 5)))).toBe(a);
    expect(sha(render(planModel('moe', 'q8_0', 6)))).not.toBe(a);
  });

  it('streams in bounded chunks', () => {
    let max = 0;
    for (const c of modelChunks(planModel('tiny', 'f16'))) max = Math.max(max, c.length);
    expect(max).toBeLessThanOrEqual(4 << 20);
    expect(readFileSync(join(dir, 'tiny-f16.gguf')).subarray(0, 4).toString('latin1')).toBe('GGUF');
  });
});
