// wire.ts: protobuf wire-format primitives for the few control messages the app
// speaks (messages.ts). Hand-written rather than protobufjs: ArkTS forbids the
// `any`-typed reflection protobufjs is built on, and this file runs unchanged
// on the device and under vitest. Tested against protobufjs on the real schema
// (ohos-app/test/messages.test.ts).
//
// uint64 values are read into a JS number: exact up to 2^53 (104 days of ns,
// 9 PB of bytes), which covers every field the app shows. Larger values are
// flagged by ProtoReader.lossy rather than silently rounded.

/** A message the app cannot trust: truncated, or with an impossible field. */
export class WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireError';
  }
}

export enum WireType {
  VARINT = 0,
  FIXED64 = 1,
  LEN = 2,
  FIXED32 = 5
}

/** UTF-8 bytes of a string (no TextEncoder: not a global on every ArkTS runtime). */
export function utf8Encode(s: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c < 0x80) {
      out.push(c);
    } else if (c < 0x800) {
      out.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    } else if (c < 0x10000) {
      out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
    } else {
      out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 0x3f), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
    }
  }
  return new Uint8Array(out);
}

/** A string from UTF-8 bytes; invalid sequences become U+FFFD. */
export function utf8Decode(b: Uint8Array): string {
  let s = '';
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    let cp = 0xfffd;
    let n = 1;
    if (c < 0x80) {
      cp = c;
    } else if (c >= 0xc2 && c < 0xe0 && i + 1 < b.length && (b[i + 1] & 0xc0) === 0x80) {
      cp = ((c & 0x1f) << 6) | (b[i + 1] & 0x3f);
      n = 2;
    } else if (c >= 0xe0 && c < 0xf0 && i + 2 < b.length && (b[i + 1] & 0xc0) === 0x80 && (b[i + 2] & 0xc0) === 0x80) {
      cp = ((c & 0x0f) << 12) | ((b[i + 1] & 0x3f) << 6) | (b[i + 2] & 0x3f);
      n = 3;
      if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)) {
        cp = 0xfffd;
      }
    } else if (c >= 0xf0 && c < 0xf5 && i + 3 < b.length && (b[i + 1] & 0xc0) === 0x80 &&
      (b[i + 2] & 0xc0) === 0x80 && (b[i + 3] & 0xc0) === 0x80) {
      cp = ((c & 0x07) << 18) | ((b[i + 1] & 0x3f) << 12) | ((b[i + 2] & 0x3f) << 6) | (b[i + 3] & 0x3f);
      n = 4;
      if (cp < 0x10000 || cp > 0x10ffff) {
        cp = 0xfffd;
      }
    }
    s += String.fromCodePoint(cp);
    i += n;
  }
  return s;
}

/** Appends fields in protobuf wire format; proto3 defaults (0, '', false) are omitted. */
export class ProtoWriter {
  private bytes: number[] = [];

  /** A non-negative integer up to 2^53 as a varint. */
  varint(value: number): ProtoWriter {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`cannot encode ${value} as a varint`);
    }
    let v = value;
    while (v >= 0x80) {
      this.bytes.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.bytes.push(v);
    return this;
  }

  private tag(field: number, type: WireType): void {
    this.varint(field * 8 + type);
  }

  uint(field: number, value: number): ProtoWriter {
    if (value !== 0) {
      this.tag(field, WireType.VARINT);
      this.varint(value);
    }
    return this;
  }

  bool(field: number, value: boolean): ProtoWriter {
    if (value) {
      this.tag(field, WireType.VARINT);
      this.varint(1);
    }
    return this;
  }

  bytesField(field: number, value: Uint8Array): ProtoWriter {
    this.tag(field, WireType.LEN);
    this.varint(value.length);
    for (let i = 0; i < value.length; i++) {
      this.bytes.push(value[i]);
    }
    return this;
  }

  string(field: number, value: string): ProtoWriter {
    if (value.length > 0) {
      this.bytesField(field, utf8Encode(value));
    }
    return this;
  }

  /** A repeated string: every element, empty ones included. */
  repeatedString(field: number, values: string[]): ProtoWriter {
    for (const v of values) {
      this.bytesField(field, utf8Encode(v));
    }
    return this;
  }

  /** An embedded message, written even when empty (a oneof member must be). */
  message(field: number, body: Uint8Array): ProtoWriter {
    return this.bytesField(field, body);
  }

  finish(): Uint8Array {
    return new Uint8Array(this.bytes);
  }
}

/** Reads fields of one message; every read is bounds-checked. */
export class ProtoReader {
  private readonly buf: Uint8Array;
  private pos: number = 0;
  /** A uint64 above 2^53 was read (and rounded). */
  lossy: boolean = false;

  constructor(buf: Uint8Array) {
    this.buf = buf;
  }

  done(): boolean {
    return this.pos >= this.buf.length;
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) {
        throw new WireError('truncated varint');
      }
      const b = this.buf[this.pos++];
      value += (b & 0x7f) * scale;
      scale *= 0x80;
      if ((b & 0x80) === 0) {
        if (value > Number.MAX_SAFE_INTEGER) {
          this.lossy = true;
        }
        return value;
      }
    }
    throw new WireError('varint longer than 10 bytes');
  }

  /** Field number and wire type of the next field. */
  tag(): number[] {
    const t = this.varint();
    const field = Math.floor(t / 8);
    if (field === 0) {
      throw new WireError('field number 0');
    }
    return [field, t % 8];
  }

  bytes(): Uint8Array {
    const len = this.varint();
    if (len > this.buf.length - this.pos) {
      throw new WireError(`length ${len} runs past the end of the message`);
    }
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  string(): string {
    return utf8Decode(this.bytes());
  }

  bool(): boolean {
    return this.varint() !== 0;
  }

  /** A double (fixed64, little-endian). */
  double(): number {
    if (this.buf.length - this.pos < 8) {
      throw new WireError('truncated double');
    }
    const view = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8);
    this.pos += 8;
    return view.getFloat64(0, true);
  }

  /** A sint32 (zigzag varint). */
  sint(): number {
    const v = this.varint();
    return v % 2 === 0 ? v / 2 : -(v + 1) / 2;
  }

  /** Packed or unpacked repeated uint32: appends to `out`. */
  repeatedUint(type: number, out: number[]): void {
    if (type === WireType.LEN) {
      const r = new ProtoReader(this.bytes());
      while (!r.done()) {
        out.push(r.varint());
      }
    } else if (type === WireType.VARINT) {
      out.push(this.varint());
    } else {
      throw new WireError(`wire type ${type} for a repeated integer`);
    }
  }

  /** Skips a field the app does not use (newer servers add fields). */
  skip(type: number): void {
    if (type === WireType.VARINT) {
      this.varint();
    } else if (type === WireType.FIXED64) {
      this.advance(8);
    } else if (type === WireType.LEN) {
      this.bytes();
    } else if (type === WireType.FIXED32) {
      this.advance(4);
    } else {
      throw new WireError(`unsupported wire type ${type}`);
    }
  }

  /** Checks the wire type a known field must have. */
  expect(field: number, type: number, want: WireType): void {
    if (type !== want) {
      throw new WireError(`field ${field} has wire type ${type}, expected ${want}`);
    }
  }

  private advance(n: number): void {
    if (this.buf.length - this.pos < n) {
      throw new WireError('truncated fixed-size field');
    }
    this.pos += n;
  }
}
