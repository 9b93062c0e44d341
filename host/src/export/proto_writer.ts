// proto_writer.ts: a small protobuf writer for the exporters' hot path, in the
// manner of Perfetto's protozero: one growable byte buffer, nested messages
// opened with fork() and closed with ldelim(), which patches the length in
// place (no op list, no per-field allocation). protobufjs's Writer builds a
// linked list of operations per field; at one packet per slice edge that was
// the export's bottleneck (about 40 k node events/s against well over 1 M/s
// here). Field numbers still come from the schema (perfetto_protos/index.ts).
//
// Method names follow protobufjs's Writer so the two read alike. Integers are
// JS numbers and must be exact (|v| < 2^53); wider values go through uint64Big().

/** Bytes of v (0 <= v < 2^53) as a varint. */
export function varintSize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  let n = 5;
  for (v = Math.floor(v / 0x800000000); v > 0; v = Math.floor(v / 128)) n++;
  return n;
}

/** Room kept for a nested message's length, patched (and compacted) by ldelim(). */
const LENGTH_RESERVE = 4;
/** Messages up to this long are moved byte by byte when their length is compacted. */
const SHORT_MOVE = 32;
/** Largest nested message a 4-byte varint can frame. */
const MAX_NESTED_BYTES = 2 ** 28 - 1;

export class ProtoWriter {
  #buf: Uint8Array;
  #view: DataView;
  #pos = 0;
  readonly #forks: number[] = [];
  readonly #encoder = new TextEncoder();

  constructor(initialBytes = 1 << 16) {
    this.#buf = new Uint8Array(initialBytes);
    this.#view = new DataView(this.#buf.buffer);
  }

  /** Bytes written so far (including open messages). */
  get len(): number {
    return this.#pos;
  }

  #ensure(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#pos));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  /**
   * Makes room for n more bytes, for the unchecked writers u8() and varint()
   * (the hot path frames whole packets whose size it knows).
   */
  reserve(n: number): this {
    this.#ensure(n);
    return this;
  }

  /** One byte (a one-byte tag or varint), with no room check: reserve() first. */
  u8(v: number): this {
    this.#buf[this.#pos++] = v;
    return this;
  }

  /** A non-negative integer below 2^53 as a varint, with no room check: reserve() first. */
  varint(v: number): this {
    const buf = this.#buf;
    let pos = this.#pos;
    if (v < 0x80) {
      buf[pos] = v;
      this.#pos = pos + 1;
      return this;
    }
    // As 32-bit halves (integer ops only), like protobufjs's writeVarint64.
    let lo = v >>> 0;
    let hi = (v - lo) / 4294967296;
    while (hi !== 0) {
      buf[pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    while (lo > 127) {
      buf[pos++] = (lo & 0x7f) | 0x80;
      lo >>>= 7;
    }
    buf[pos++] = lo;
    this.#pos = pos;
    return this;
  }

  /** A non-negative integer below 2^53 as a varint. */
  uint64(v: number): this {
    this.#ensure(10);
    return this.varint(v);
  }

  uint32(v: number): this {
    if (v >= 0 && v < 0x80) {
      // Tags and small values: one byte.
      if (this.#pos >= this.#buf.length) this.#ensure(1);
      this.#buf[this.#pos++] = v;
      return this;
    }
    return this.uint64(v >>> 0);
  }

  /** int32 / int64: negatives take ten bytes (two's complement), as protobuf says. */
  int64(v: number): this {
    if (v >= 0) return this.uint64(v);
    if (v >= -0x80000000) {
      // Two's complement: low 32 bits of v, high 32 bits all ones (ten bytes).
      this.#ensure(10);
      const buf = this.#buf;
      let pos = this.#pos;
      let lo = v >>> 0;
      for (let i = 0; i < 4; i++) {
        buf[pos++] = (lo & 0x7f) | 0x80;
        lo >>>= 7;
      }
      buf[pos++] = lo | 0x70 | 0x80; // 4 low bits, then 3 of the all-ones high word
      for (let i = 0; i < 4; i++) buf[pos++] = 0xff;
      buf[pos++] = 0x01;
      this.#pos = pos;
      return this;
    }
    return this.uint64Big(BigInt.asUintN(64, BigInt(v)));
  }

  int32(v: number): this {
    return this.int64(v | 0);
  }

  uint64Big(v: bigint): this {
    this.#ensure(10);
    const buf = this.#buf;
    let pos = this.#pos;
    while (v > 0x7fn) {
      buf[pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    buf[pos++] = Number(v);
    this.#pos = pos;
    return this;
  }

  bool(v: boolean): this {
    this.#ensure(1);
    this.#buf[this.#pos++] = v ? 1 : 0;
    return this;
  }

  double(v: number): this {
    this.#ensure(8);
    this.#view.setFloat64(this.#pos, v, true);
    this.#pos += 8;
    return this;
  }

  /** A non-negative integer below 2^53 as eight little-endian bytes. */
  fixed64(v: number): this {
    this.#ensure(8);
    this.#view.setUint32(this.#pos, v >>> 0, true);
    this.#view.setUint32(this.#pos + 4, Math.floor(v / 4294967296), true);
    this.#pos += 8;
    return this;
  }

  /** Length-prefixed UTF-8. */
  string(v: string): this {
    this.#ensure(5 + v.length * 3);
    const start = this.#pos;
    // Short strings (the common case) have a one-byte length: encode in place after it.
    const { written } = this.#encoder.encodeInto(v, this.#buf.subarray(start + 1));
    if (written < 128) {
      this.#buf[start] = written;
      this.#pos = start + 1 + written;
      return this;
    }
    const bytes = this.#encoder.encode(v);
    this.uint64(bytes.length);
    this.#ensure(bytes.length);
    this.#buf.set(bytes, this.#pos);
    this.#pos += bytes.length;
    return this;
  }

  /** Bytes written as they are (fields encoded earlier). */
  raw(bytes: Uint8Array): this {
    const n = bytes.length;
    this.#ensure(n);
    const buf = this.#buf;
    const pos = this.#pos;
    // A loop beats set()'s call overhead for a few bytes.
    if (n <= 16) for (let i = 0; i < n; i++) buf[pos + i] = bytes[i] as number;
    else buf.set(bytes, pos);
    this.#pos = pos + n;
    return this;
  }

  /** What another writer holds, copied in; that writer is then empty again (a reusable scratch buffer). */
  drain(from: ProtoWriter): this {
    if (from.#forks.length > 0) throw new Error('ProtoWriter: drain() from a writer with an open fork()');
    const n = from.#pos;
    this.#ensure(n);
    const src = from.#buf;
    const buf = this.#buf;
    const pos = this.#pos;
    if (n <= SHORT_MOVE) for (let i = 0; i < n; i++) buf[pos + i] = src[i] as number;
    else buf.set(src.subarray(0, n), pos);
    this.#pos = pos + n;
    from.#pos = 0;
    return this;
  }

  /** Opens a length-delimited message (write its tag first). */
  fork(): this {
    this.#ensure(LENGTH_RESERVE);
    this.#forks.push(this.#pos);
    this.#pos += LENGTH_RESERVE;
    return this;
  }

  /** Closes the innermost fork(): writes its length, minimal size. */
  ldelim(): this {
    const at = this.#forks.pop();
    if (at === undefined) throw new Error('ProtoWriter: ldelim() without fork()');
    const body = at + LENGTH_RESERVE;
    const len = this.#pos - body;
    if (len > MAX_NESTED_BYTES) throw new Error(`ProtoWriter: nested message of ${len} bytes`);
    const n = len < 0x80 ? 1 : len < 0x4000 ? 2 : len < 0x200000 ? 3 : 4;
    const buf = this.#buf;
    if (n < LENGTH_RESERVE) {
      if (len <= SHORT_MOVE) {
        // A loop beats copyWithin's call overhead for the many tiny messages (annotations).
        for (let i = 0; i < len; i++) buf[at + n + i] = buf[body + i] as number;
      } else {
        buf.copyWithin(at + n, body, this.#pos);
      }
      this.#pos -= LENGTH_RESERVE - n;
    }
    let v = len;
    for (let i = 0; i < n - 1; i++) {
      buf[at + i] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[at + n - 1] = v;
    return this;
  }

  /** The bytes written (a copy) and a reset writer. All forks must be closed. */
  finish(): Uint8Array {
    if (this.#forks.length > 0) throw new Error('ProtoWriter: finish() with an open fork()');
    const out = this.#buf.slice(0, this.#pos);
    this.#pos = 0;
    return out;
  }
}
