// tensor_names.ts: layer and block of a node from the tensor names llama.cpp
// gives its graph (cb(cur, "Qcur", il) in src/models/*.cpp and
// src/llama-graph.cpp names tensors "Qcur-3"; ggml appends " (view)",
// " (permuted)", " (reshaped)", " (copy of ...)" to derived tensors; the KV
// cache is "cache_k_l3").

export type Block = 'input' | 'norm' | 'attention' | 'ffn' | 'moe' | 'residual' | 'output' | 'other';

export const BLOCKS: readonly Block[] = ['input', 'norm', 'attention', 'ffn', 'moe', 'residual', 'output', 'other'];

export interface TensorClass {
  /** Transformer layer; -1 outside the layers (embeddings, output) or unknown. */
  readonly layer: number;
  readonly block: Block;
  /** The name without layer suffix and ggml's view annotations: "Qcur". */
  readonly base: string;
  /** Whether the name says anything (false: "node_21", "", "leaf_3"): inherit from sources. */
  readonly known: boolean;
}

const ATTENTION = /^(q|k|v|kq|kqv|wqkv|attn|fattn|v_cont|kv|self_kq|pos_bias|qkv)(_|$)|^[QKV]cur/;

/** Layer and block from one tensor name. */
export function classifyTensor(name: string): TensorClass {
  const paren = name.indexOf(' (');
  let base = paren >= 0 ? name.slice(0, paren) : name;
  let layer = -1;
  const dash = /^(.*)-(\d+)$/.exec(base);
  if (dash) {
    base = dash[1] as string;
    layer = Number(dash[2]);
  }
  const cache = /^cache_([kv])_l(\d+)$/.exec(base);
  if (cache) return { layer: Number(cache[2]), block: 'attention', base: `cache_${cache[1]}`, known: true };
  if (base === '' || /^(node|leaf)_\d+$/.test(base)) return { layer, block: 'other', base, known: false };
  return { layer, block: blockOf(base), base, known: true };
}

function blockOf(base: string): Block {
  if (base === 'result_output') return 'output';
  if (base === 'result_norm') return 'norm';
  if (base.startsWith('inp_') || base === 'embd' || base.startsWith('result_embd')) return 'input';
  if (base === 'l_out' || base === 'ffn_inp' || base.endsWith('_residual')) return 'residual';
  if (base === 'norm' || base.endsWith('_norm') || base === 'norm_w') return 'norm';
  if (ATTENTION.test(base)) return 'attention';
  if (base.startsWith('ffn_moe') || base.startsWith('ffn_exp') || base === 'ffn_shexp') return 'moe';
  if (base.startsWith('ffn_')) return 'ffn';
  return 'other';
}
