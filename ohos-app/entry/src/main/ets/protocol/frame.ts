// frame.ts: the control protocol's framing, a varint length then one message.
// The app's twin of host/src/device/control_frame.ts and
// collector-c/src/control_frame.c (ArkTS has no `#private` fields, so this is
// its own copy). Socket chunks may split a frame anywhere, even in the length.

/** The largest ClientMessage profinferd accepts (PI_CONTROL_MAX_CLIENT_FRAME). */
export const MAX_CLIENT_FRAME_BYTES: number = 64 * 1024;
/** The largest ServerMessage profinferd sends (PI_CONTROL_MAX_SERVER_FRAME). */
export const MAX_SERVER_FRAME_BYTES: number = 4 * 1024 * 1024;
const MAX_VARINT_BYTES: number = 10;

/** The peer sent bytes that are not a frame: the connection cannot go on. */
export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

/** One frame: the body's length as a varint, then the body. */
export function encodeFrame(body: Uint8Array): Uint8Array {
  const len: number[] = [];
  let v = body.length;
  while (v >= 0x80) {
    len.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  len.push(v);
  const out = new Uint8Array(len.length + body.length);
  out.set(len, 0);
  out.set(body, len.length);
  return out;
}

/** push() socket chunks, get back the bodies of the frames they complete. */
export class FrameSplitter {
  private readonly maxFrameBytes: number;
  private buf: Uint8Array = new Uint8Array(0);

  constructor(maxFrameBytes: number) {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Bytes received that are not yet a whole frame. */
  pending(): number {
    return this.buf.length;
  }

  push(chunk: Uint8Array): Uint8Array[] {
    const joined = new Uint8Array(this.buf.length + chunk.length);
    joined.set(this.buf, 0);
    joined.set(chunk, this.buf.length);
    const out: Uint8Array[] = [];
    let pos = 0;
    while (pos < joined.length) {
      let len = 0;
      let scale = 1;
      let i = 0;
      let complete = false;
      for (; i < MAX_VARINT_BYTES && pos + i < joined.length; i++) {
        const b = joined[pos + i];
        len += (b & 0x7f) * scale;
        scale *= 0x80;
        if (len > this.maxFrameBytes) {
          throw new FrameError(`frame of ${len}+ bytes exceeds the limit of ${this.maxFrameBytes} bytes`);
        }
        if ((b & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete) {
        if (i >= MAX_VARINT_BYTES) {
          throw new FrameError('frame length is not a valid varint');
        }
        break;
      }
      const start = pos + i + 1;
      if (joined.length - start < len) {
        break;
      }
      out.push(joined.slice(start, start + len));
      pos = start + len;
    }
    this.buf = joined.slice(pos);
    return out;
  }
}
