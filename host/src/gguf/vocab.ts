// A SentencePiece-style ("llama") vocabulary that llama.cpp's SPM tokenizer can
// use on any text: <unk> <s> </s>, then the 256 byte-fallback tokens <0x00>..<0xFF>
// (so every byte sequence tokenizes and detokenizes), then word pieces.
// SPM merges bigrams whose concatenation is a token, so each word comes after
// all of its prefixes: that keeps every merge path open and whole words reachable.

/** llama.cpp `enum llama_token_type` (gguf tokenizer.ggml.token_type). */
export enum TokenType {
  NORMAL = 1,
  UNKNOWN = 2,
  CONTROL = 3,
  USER_DEFINED = 4,
  UNUSED = 5,
  BYTE = 6,
}

/** SentencePiece's whitespace marker (U+2581). */
export const SPACE = '\u2581';

export const UNK_ID = 0;
export const BOS_ID = 1;
export const EOS_ID = 2;
export const FIRST_BYTE_ID = 3;
/** Tokens before this id are control, unknown or byte tokens. */
export const FIRST_PIECE_ID = FIRST_BYTE_ID + 256;

export interface Vocab {
  readonly tokens: readonly string[];
  readonly scores: Float32Array;
  readonly types: Int32Array;
}

// Common English words: enough that ordinary prompts become word tokens.
const WORDS = `the of and to in a is that for it as was with be by on not he I this are or his from at
which but have an they you were her she there one all we their been has would when if will more no
out so said what up its about into than them can only other new some could time these two may then
do first any my now such like our over man me even most made after also did many before must through
back years where much your way well down should because each just those people how too little state
good very make world still own see men work long get here between both life being under never day same
another know while last might us great old year off come since against go came right used take three
states himself few house use during without again place American around however home small found Mrs
thought went say part once general high upon school every don does got united left number course war
until always away something fact though water less public put think almost hand enough far took head
yet government system better set told nothing night end why called didn eyes find going look asked
later knew point next program city business give group toward young let room president side social
given present several order national possible rather second face per among form important often things
looked early white case John become large big need four within felt along children saw best church ever
least power development light thing seemed family interest want members mind country area others done
turned although open God service problem certain kind different thus began door help sense means whole
matter perhaps itself York times law human line above name example action company hands local show
whether five history gave today either act feet across taken past quite anything seen having death week
experience body word half really field am car words already themselves information tell together college
shall money period held keep sure real probably free seems political cannot behind miss question air
office making brought whose special heard major problems ago became federal moment study available known
result street economic boy position reason change south board individual job areas society west close
turn love community true court force full seem am model token tokens profile profiler inference llama
kernel trace graph thread memory compute fast slow time`.split(/\s+/).filter((w) => w.length > 0);

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
const SYMBOLS = `.,!?;:'"()[]{}-_/\\*&%$#@+=<>|~^\`0123456789`;

export function byteToken(byte: number): string {
  return `<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`;
}

/** Candidate pieces in priority order (duplicates allowed; the builder drops them). */
function* pieceCandidates(): Generator<string> {
  yield SPACE;
  for (const c of LETTERS) yield c;
  for (const c of LETTERS.toUpperCase()) yield c;
  for (const c of SYMBOLS) yield c;
  for (const c of LETTERS) yield SPACE + c;
  for (const c of LETTERS.toUpperCase()) yield SPACE + c;
  for (const c of SYMBOLS) yield SPACE + c;
  for (const w of WORDS) {
    // Every prefix first, with and without the leading space, so the merges exist.
    for (let n = 2; n <= w.length; n++) yield SPACE + w.slice(0, n);
    for (let n = 2; n <= w.length; n++) yield w.slice(0, n);
  }
  // Filler so big vocabularies (TinyLlama's 32,000) are realistic in size: letter
  // pairs and triples, each after its own prefixes.
  for (const a of LETTERS) for (const b of LETTERS) { yield SPACE + a + b; yield a + b; }
  for (const a of LETTERS) for (const b of LETTERS) for (const c of LETTERS) { yield SPACE + a + b + c; yield a + b + c; }
  for (const a of LETTERS) for (const b of LETTERS) for (const c of LETTERS) for (const d of LETTERS) {
    yield SPACE + a + b + c + d;
    yield a + b + c + d;
  }
}

/** The smallest size that still holds the fixed tokens plus a usable set of pieces. */
export const MIN_VOCAB_SIZE = FIRST_PIECE_ID + 1 + 2 * LETTERS.length + SYMBOLS.length;

/**
 * Build a vocabulary of exactly `size` tokens. Piece scores fall with their rank,
 * like SentencePiece log-probabilities, so earlier (commoner) pieces win merges.
 */
export function buildVocab(size: number): Vocab {
  if (!Number.isInteger(size) || size < MIN_VOCAB_SIZE) {
    throw new RangeError(`vocabulary size must be an integer >= ${MIN_VOCAB_SIZE}, got ${size}`);
  }
  const tokens: string[] = ['<unk>', '<s>', '</s>'];
  const types: number[] = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL];
  for (let b = 0; b < 256; b++) {
    tokens.push(byteToken(b));
    types.push(TokenType.BYTE);
  }
  const seen = new Set(tokens);
  for (const piece of pieceCandidates()) {
    if (tokens.length >= size) break;
    if (seen.has(piece)) continue;
    seen.add(piece);
    tokens.push(piece);
    types.push(TokenType.NORMAL);
  }
  if (tokens.length < size) throw new RangeError(`cannot build a vocabulary of ${size} distinct pieces`);
  const scores = new Float32Array(size);
  for (let i = FIRST_PIECE_ID; i < size; i++) scores[i] = FIRST_PIECE_ID - i;
  return { tokens, scores, types: Int32Array.from(types) };
}

/** Tokens a generator should never emit: unknown, control and raw bytes. */
export function isSilentToken(vocab: Vocab, id: number): boolean {
  const t = vocab.types[id];
  return t === TokenType.UNKNOWN || t === TokenType.CONTROL || t === TokenType.BYTE;
}
