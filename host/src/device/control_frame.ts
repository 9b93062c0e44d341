// control_frame.ts: the control protocol's framing. Twin of
// collector-c/src/control_frame.c.
//
// A control connection carries frames: a varint length, then one protobuf
// message (ClientMessage to profinferd, ServerMessage back). Chunks from the
// socket may split a frame anywhere, even inside the length.

/** The largest ClientMessage profinferd accepts: PI_CONTROL_MAX_CLIENT_FRAME in control_frame.h. */
export const MAX_CLIENT_FRAME_BYTES = 64 * 1024;
/** The largest ServerMessage profinferd sends: PI_CONTROL_MAX_SERVER_FRAME in control_frame.h. */
export const MAX_SERVER_FRAME_BYTES = 4 * 1024 * 1024;
/** The longest varint protobuf allows. */
const MAX_VARINT_BYTES = 10;

/** The peer sent bytes that are not a frame; the connection cannot go on. */
export class ControlFrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = this.constructor.name;
  }
}

/** A varint of a non-negative integer (up to 2^53). */
export function encodeVarint(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`cannot encode ${value} as a varint`);
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Uint8Array.from(out);
}

/** One frame: the body's length, then the body. */
export function encodeFrame(body: Uint8Array): Uint8Array {
  const len = encodeVarint(body.length);
  const out = new Uint8Array(len.length + body.length);
  out.set(len, 0);
  out.set(body, len.length);
  return out;
}

/**
 * Incremental splitter: push() socket chunks and get back the bodies of the
 * frames they complete. A length over `maxFrameBytes` or an invalid varint
 * throws ControlFrameError (nothing after it can be trusted).
 */
export class FrameSplitter {
  readonly #maxFrameBytes: number;
  #buf: Uint8Array = new Uint8Array(0);

  constructor(maxFrameBytes = MAX_SERVER_FRAME_BYTES) {
    this.#maxFrameBytes = maxFrameBytes;
  }

  /** Bytes received but not yet a whole frame. */
  get pending(): number {
    return this.#buf.length;
  }

  push(chunk: Uint8Array): Uint8Array[] {
    const joined = new Uint8Array(this.#buf.length + chunk.length);
    joined.set(this.#buf, 0);
    joined.set(chunk, this.#buf.length);
    const out: Uint8Array[] = [];
    let pos = 0;
    for (;;) {
      let len = 0;
      let scale = 1;
      let i = 0;
      let complete = false;
      for (; i < MAX_VARINT_BYTES && pos + i < joined.length; i++) {
        const b = joined[pos + i] as number;
        len += (b & 0x7f) * scale;
        scale *= 0x80;
        if (len > this.#maxFrameBytes) {
          throw new ControlFrameError(`frame of ${len}+ bytes exceeds the limit of ${this.#maxFrameBytes} bytes`);
        }
        if (!(b & 0x80)) {
          complete = true;
          break;
        }
      }
      if (!complete) {
        if (i >= MAX_VARINT_BYTES) throw new ControlFrameError('frame length is not a valid varint');
        break;
      }
      const start = pos + i + 1;
      if (joined.length - start < len) break;
      out.push(joined.slice(start, start + len));
      pos = start + len;
    }
    this.#buf = joined.slice(pos);
    return out;
  }
}
