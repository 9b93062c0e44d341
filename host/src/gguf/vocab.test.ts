import { describe, expect, it } from 'vitest';
import {
  BOS_ID, EOS_ID, FIRST_BYTE_ID, FIRST_PIECE_ID, MIN_VOCAB_SIZE, SPACE, TokenType, UNK_ID, Vocab, buildVocab, byteToken,
  isSilentToken,
} from './vocab.js';

/**
 * A small model of llama.cpp's SPM tokenizer (src/llama-vocab.cpp llm_tokenizer_spm):
 * spaces become U+2581 with one prepended, symbols start as UTF-8 characters, the
 * best-scoring adjacent pair whose concatenation is a token merges until none is left,
 * and a symbol that is not a token falls back to its bytes.
 */
function tokenize(vocab: Vocab, text: string): number[] {
  const ids = new Map(vocab.tokens.map((t, i) => [t, i]));
  let syms = [...(SPACE + text.replaceAll(' ', SPACE))];
  for (;;) {
    let best = -1;
    let bestScore = -Infinity;
    for (let i = 0; i + 1 < syms.length; i++) {
      const id = ids.get((syms[i] as string) + (syms[i + 1] as string));
      if (id !== undefined && (vocab.scores[id] as number) > bestScore) {
        best = i;
        bestScore = vocab.scores[id] as number;
      }
    }
    if (best < 0) break;
    syms = [...syms.slice(0, best), (syms[best] as string) + (syms[best + 1] as string), ...syms.slice(best + 2)];
  }
  return syms.flatMap((s) => {
    const id = ids.get(s);
    return id !== undefined ? [id] : [...Buffer.from(s, 'utf8')].map((b) => FIRST_BYTE_ID + b);
  });
}

function detokenize(vocab: Vocab, ids: readonly number[]): string {
  const bytes: number[] = [];
  for (const id of ids) {
    if (vocab.types[id] === TokenType.BYTE) bytes.push(id - FIRST_BYTE_ID);
    else bytes.push(...Buffer.from((vocab.tokens[id] as string).replaceAll(SPACE, ' '), 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8').replace(/^ /, '');
}

describe('buildVocab', () => {
  it.each([MIN_VOCAB_SIZE, 1000, 32000])('builds exactly %i unique tokens', (size) => {
    const v = buildVocab(size);
    expect(v.tokens.length).toBe(size);
    expect(v.scores.length).toBe(size);
    expect(v.types.length).toBe(size);
    expect(new Set(v.tokens).size).toBe(size);
  });

  it('starts with <unk> <s> </s> and the 256 byte tokens', () => {
    const v = buildVocab(1000);
    expect(v.tokens.slice(0, 3)).toEqual(['<unk>', '<s>', '</s>']);
    expect([v.types[UNK_ID], v.types[BOS_ID], v.types[EOS_ID]]).toEqual([TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL]);
    for (let b = 0; b < 256; b++) {
      expect(v.tokens[FIRST_BYTE_ID + b]).toBe(byteToken(b));
      expect(v.types[FIRST_BYTE_ID + b]).toBe(TokenType.BYTE);
    }
    expect(v.tokens[FIRST_BYTE_ID + 0x0a]).toBe('<0x0A>'); // llama.cpp finds the newline token by this name
    expect([...v.types.slice(FIRST_PIECE_ID)].every((t) => t === TokenType.NORMAL)).toBe(true);
  });

  it('scores pieces by rank, like SentencePiece log-probabilities', () => {
    const v = buildVocab(1000);
    expect(v.scores[FIRST_PIECE_ID]).toBe(0);
    for (let i = FIRST_PIECE_ID + 1; i < 1000; i++) expect(v.scores[i]).toBeLessThan(v.scores[i - 1] as number);
  });

  it('lists every piece after its prefixes, so SPM merges can reach it', () => {
    const v = buildVocab(32000);
    const seen = new Set<string>();
    for (const t of v.tokens.slice(FIRST_PIECE_ID)) {
      const chars = [...t];
      if (chars.length > 2) expect(seen.has(chars.slice(0, -1).join('')), t).toBe(true);
      seen.add(t);
    }
  });

  it('is deterministic', () => {
    expect(buildVocab(1000)).toEqual(buildVocab(1000));
  });

  it('rejects sizes too small for the fixed tokens', () => {
    expect(() => buildVocab(MIN_VOCAB_SIZE - 1)).toThrow(RangeError);
    expect(() => buildVocab(1000.5)).toThrow(RangeError);
  });

  it('marks control, unknown and byte tokens silent', () => {
    const v = buildVocab(1000);
    expect([UNK_ID, BOS_ID, EOS_ID, FIRST_BYTE_ID, FIRST_PIECE_ID - 1].map((id) => isSilentToken(v, id))).toEqual([true, true, true, true, true]);
    expect(isSilentToken(v, FIRST_PIECE_ID)).toBe(false);
  });
});

describe('SPM tokenization with the generated vocabulary', () => {
  const texts = [
    'The quick brown fox jumps over the lazy dog.',
    'Profiling inference one token at a time',
    'Zürich, naïve café — 東京 😀\nnew line\ttab',
    '',
  ];

  it.each([1000, 32000])('round-trips any text (vocab %i)', (size) => {
    const v = buildVocab(size);
    for (const t of texts) expect(detokenize(v, tokenize(v, t))).toBe(t);
  });

  it('makes common words single tokens', () => {
    const v = buildVocab(1000);
    expect(tokenize(v, 'the people').map((id) => v.tokens[id])).toEqual([`${SPACE}the`, `${SPACE}people`]);
  });
});
