// Llama-architecture GGUF models with random weights, for profiling real
// llama.cpp without downloading anything. Tensor names, shapes and required keys
// follow llama.cpp's loader (src/models/llama.cpp `load_arch_tensors`,
// src/llama-model.cpp `load_hparams`, src/llama-arch.cpp for the names).
// Pure: `modelChunks` yields the file's bytes so a caller can stream them.

import {
  GgufHeader, GgufTensorInfo, GgufValue, GgufValueType, alignUp, arr, bool, encodeHeader, f32, str, tensorByteSize, u32,
} from './gguf_writer.js';
import { GgmlType, encodeF32, encodeQ8_0, rowBytes } from './quantize.js';
import { RandomWeights } from './random_weights.js';
import { BOS_ID, EOS_ID, UNK_ID, Vocab, buildVocab, isSilentToken } from './vocab.js';

/** Bumped whenever the bytes for a given (preset, type, seed) change; part of the cache path. */
export const GENERATOR_VERSION = 'v1';

export const DEFAULT_SEED = 1;

export interface ModelPreset {
  readonly name: string;
  readonly description: string;
  readonly nVocab: number;
  readonly nCtx: number;
  readonly nEmbd: number;
  readonly nLayer: number;
  readonly nHead: number;
  readonly nHeadKv: number;
  /** FFN width; for MoE presets, the width of each expert. */
  readonly nFf: number;
  readonly nExpert?: number;
  readonly nExpertUsed?: number;
}

/** Preset names are an interface: tests, scripts and benchmarks refer to them. */
export const PRESETS = {
  tiny: {
    name: 'tiny',
    description: 'dense llama, 4 layers x 256 wide (~3.6M params): fast tests',
    nVocab: 1000, nCtx: 1024, nEmbd: 256, nLayer: 4, nHead: 4, nHeadKv: 2, nFf: 512,
  },
  moe: {
    name: 'moe',
    description: 'llama MoE, 8 experts, 2 used per token, 4 layers x 256 wide: expert routing',
    nVocab: 1000, nCtx: 1024, nEmbd: 256, nLayer: 4, nHead: 4, nHeadKv: 2, nFf: 256, nExpert: 8, nExpertUsed: 2,
  },
  'tinyllama-1.1b': {
    name: 'tinyllama-1.1b',
    description: 'TinyLlama-1.1B shape (22 layers x 2048, GQA 32/4): realistic overhead benchmarks',
    nVocab: 32000, nCtx: 2048, nEmbd: 2048, nLayer: 22, nHead: 32, nHeadKv: 4, nFf: 5632,
  },
} as const satisfies Record<string, ModelPreset>;

export type PresetName = keyof typeof PRESETS;
export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];

/** Weight types a model can be generated in (norms and the MoE router stay F32). */
export const WEIGHT_TYPES = { f16: GgmlType.F16, q8_0: GgmlType.Q8_0 } as const;
export type WeightTypeName = keyof typeof WEIGHT_TYPES;
export const WEIGHT_TYPE_NAMES = Object.keys(WEIGHT_TYPES) as WeightTypeName[];

/** llama.cpp `enum llama_ftype` values for general.file_type. */
const FILE_TYPE: Record<WeightTypeName, number> = { f16: 1, q8_0: 7 };

/** Std of every random matrix: small enough that 22 layers of residual stay finite. */
export const WEIGHT_STD = 0.02;

export function isPresetName(name: string): name is PresetName {
  return Object.hasOwn(PRESETS, name);
}

export function isWeightTypeName(name: string): name is WeightTypeName {
  return Object.hasOwn(WEIGHT_TYPES, name);
}

/** `<preset>-<type>.gguf`, with `-s<seed>` when the seed is not the default. */
export function modelFileName(preset: PresetName, type: WeightTypeName, seed: number = DEFAULT_SEED): string {
  return seed === DEFAULT_SEED ? `${preset}-${type}.gguf` : `${preset}-${type}-s${seed}.gguf`;
}

type Init =
  | { readonly kind: 'ones' }
  | { readonly kind: 'normal'; readonly std: number; readonly zeroRows?: (row: number) => boolean };

export interface PlannedTensor {
  readonly info: GgufTensorInfo;
  readonly init: Init;
}

export interface ModelPlan {
  readonly preset: ModelPreset;
  readonly typeName: WeightTypeName;
  readonly seed: number;
  readonly vocab: Vocab;
  readonly metadata: readonly (readonly [string, GgufValue])[];
  readonly tensors: readonly PlannedTensor[];
  readonly header: GgufHeader;
  /** Total weights, for reporting. */
  readonly parameterCount: number;
}

function tensorList(p: ModelPreset, wtype: GgmlType, vocab: Vocab): PlannedTensor[] {
  const headDim = p.nEmbd / p.nHead;
  const nEmbdKv = headDim * p.nHeadKv;
  const out: PlannedTensor[] = [];
  const normal = (name: string, shape: number[], type = wtype): void => {
    out.push({ info: { name, shape, type }, init: { kind: 'normal', std: WEIGHT_STD } });
  };
  const norm = (name: string): void => {
    out.push({ info: { name, shape: [p.nEmbd], type: GgmlType.F32 }, init: { kind: 'ones' } });
  };

  normal('token_embd.weight', [p.nEmbd, p.nVocab]);
  for (let i = 0; i < p.nLayer; i++) {
    const b = `blk.${i}`;
    norm(`${b}.attn_norm.weight`);
    normal(`${b}.attn_q.weight`, [p.nEmbd, p.nEmbd]);
    normal(`${b}.attn_k.weight`, [p.nEmbd, nEmbdKv]);
    normal(`${b}.attn_v.weight`, [p.nEmbd, nEmbdKv]);
    normal(`${b}.attn_output.weight`, [p.nEmbd, p.nEmbd]);
    norm(`${b}.ffn_norm.weight`);
    if (p.nExpert) {
      // The router stays F32, as llama-quantize leaves ffn_gate_inp unquantized.
      normal(`${b}.ffn_gate_inp.weight`, [p.nEmbd, p.nExpert], GgmlType.F32);
      normal(`${b}.ffn_gate_exps.weight`, [p.nEmbd, p.nFf, p.nExpert]);
      normal(`${b}.ffn_down_exps.weight`, [p.nFf, p.nEmbd, p.nExpert]);
      normal(`${b}.ffn_up_exps.weight`, [p.nEmbd, p.nFf, p.nExpert]);
    } else {
      normal(`${b}.ffn_gate.weight`, [p.nEmbd, p.nFf]);
      normal(`${b}.ffn_down.weight`, [p.nFf, p.nEmbd]);
      normal(`${b}.ffn_up.weight`, [p.nEmbd, p.nFf]);
    }
  }
  norm('output_norm.weight');
  // Zero logits for control, unknown and byte tokens: with random weights greedy
  // decoding would otherwise hit </s> early or emit bytes that are not UTF-8.
  out.push({
    info: { name: 'output.weight', shape: [p.nEmbd, p.nVocab], type: wtype },
    init: { kind: 'normal', std: WEIGHT_STD, zeroRows: (row) => isSilentToken(vocab, row) },
  });
  return out;
}

function metadataFor(p: ModelPreset, typeName: WeightTypeName, seed: number, vocab: Vocab): [string, GgufValue][] {
  const headDim = p.nEmbd / p.nHead;
  const md: [string, GgufValue][] = [
    ['general.architecture', str('llama')],
    ['general.type', str('model')],
    ['general.name', str(`profinfer-${p.name}-${typeName}`)],
    ['general.description', str(`Random weights (seed ${seed}, generator ${GENERATOR_VERSION}): ${p.description}. Not a trained model.`)],
    ['general.file_type', u32(FILE_TYPE[typeName])],
    ['general.quantization_version', u32(2)],
    ['general.alignment', u32(32)],
    ['llama.vocab_size', u32(p.nVocab)],
    ['llama.context_length', u32(p.nCtx)],
    ['llama.embedding_length', u32(p.nEmbd)],
    ['llama.block_count', u32(p.nLayer)],
    ['llama.feed_forward_length', u32(p.nFf)],
    ['llama.attention.head_count', u32(p.nHead)],
    ['llama.attention.head_count_kv', u32(p.nHeadKv)],
    ['llama.rope.dimension_count', u32(headDim)],
    ['llama.rope.freq_base', f32(10000)],
    ['llama.attention.layer_norm_rms_epsilon', f32(1e-5)],
  ];
  if (p.nExpert) {
    md.push(['llama.expert_count', u32(p.nExpert)]);
    md.push(['llama.expert_used_count', u32(p.nExpertUsed ?? 1)]);
  }
  md.push(
    ['tokenizer.ggml.model', str('llama')],
    ['tokenizer.ggml.tokens', arr(GgufValueType.STRING, vocab.tokens)],
    ['tokenizer.ggml.scores', arr(GgufValueType.FLOAT32, vocab.scores)],
    ['tokenizer.ggml.token_type', arr(GgufValueType.INT32, vocab.types)],
    ['tokenizer.ggml.bos_token_id', u32(BOS_ID)],
    ['tokenizer.ggml.eos_token_id', u32(EOS_ID)],
    ['tokenizer.ggml.unknown_token_id', u32(UNK_ID)],
    ['tokenizer.ggml.add_bos_token', bool(true)],
    ['tokenizer.ggml.add_eos_token', bool(false)],
    ['tokenizer.ggml.add_space_prefix', bool(true)],
  );
  return md;
}

export function planModel(preset: PresetName | ModelPreset, typeName: WeightTypeName, seed: number = DEFAULT_SEED): ModelPlan {
  const p: ModelPreset = typeof preset === 'string' ? PRESETS[preset] : preset;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new RangeError(`seed must be a u32, got ${seed}`);
  if (p.nEmbd % p.nHead !== 0 || p.nHead % p.nHeadKv !== 0) {
    throw new RangeError(`preset '${p.name}': n_embd must divide by n_head and n_head by n_head_kv`);
  }
  const vocab = buildVocab(p.nVocab);
  const tensors = tensorList(p, WEIGHT_TYPES[typeName], vocab);
  const metadata = metadataFor(p, typeName, seed, vocab);
  const header = encodeHeader(metadata, tensors.map((t) => t.info));
  const parameterCount = tensors.reduce((n, t) => n + t.info.shape.reduce((a, b) => a * b, 1), 0);
  return { preset: p, typeName, seed, vocab, metadata, tensors, header, parameterCount };
}

/** Elements generated per step: bounds memory whatever the model size. */
const CHUNK_ELEMENTS = 1 << 20;

/**
 * The file's bytes in order: header, then each tensor and its padding. Chunks reuse
 * buffers: consume (write) each one before asking for the next.
 */
export function* modelChunks(plan: ModelPlan): Generator<Uint8Array> {
  yield plan.header.bytes;
  const values = new Float32Array(CHUNK_ELEMENTS);
  const halves = new Uint16Array(CHUNK_ELEMENTS);
  const q8 = new Uint8Array(rowBytes(GgmlType.Q8_0, CHUNK_ELEMENTS));
  for (const t of plan.tensors) {
    const { info, init } = t;
    const ne0 = info.shape[0] as number;
    const rows = info.shape.slice(1).reduce((a, b) => a * b, 1);
    const size = tensorByteSize(info);
    if (init.kind === 'ones') {
      yield encodeF32(new Float32Array(ne0 * rows).fill(1));
    } else {
      const rng = new RandomWeights(plan.seed, info.name, init.std);
      const rowsPerChunk = Math.max(1, Math.floor(CHUNK_ELEMENTS / ne0));
      for (let r0 = 0; r0 < rows; r0 += rowsPerChunk) {
        const n = Math.min(rowsPerChunk, rows - r0) * ne0;
        if (info.type === GgmlType.F16) {
          const h = halves.subarray(0, n);
          rng.fillHalf(h);
          if (init.zeroRows) zeroRows(h, r0, ne0, init.zeroRows);
          yield new Uint8Array(h.buffer, 0, n * 2);
        } else {
          const v = values.subarray(0, n);
          rng.fill(v);
          if (init.zeroRows) zeroRows(v, r0, ne0, init.zeroRows);
          if (info.type === GgmlType.Q8_0) yield encodeQ8_0(v, q8);
          else yield new Uint8Array(v.buffer, 0, n * 4);
        }
      }
    }
    const pad = alignUp(size, plan.header.alignment) - size;
    if (pad > 0) yield new Uint8Array(pad);
  }
}

function zeroRows(buf: Float32Array | Uint16Array, firstRow: number, ne0: number, pred: (row: number) => boolean): void {
  const nRows = buf.length / ne0;
  for (let r = 0; r < nRows; r++) if (pred(firstRow + r)) buf.fill(0, r * ne0, (r + 1) * ne0);
}
