// stream_reader.ts: splits a trace byte stream into TracePacket bytes.
// Twin of collector-c/src/stream_writer.c, which writes what this reads.
//
// A trace is a `Trace` message written one packet at a time: each packet is
// framed as field 1 (tag 0x0a, varint length, bytes). Chunks may split a
// frame anywhere, even inside the length varint. A cut or corrupt stream
// still gives every whole packet before the damage, then a typed error whose
// message names the byte offset.
import { createReadStream } from 'node:fs';

/** Largest packet accepted: PI_MAX_PACKET_BYTES in stream_writer.h. */
export const MAX_PACKET_BYTES = 16 * 1024 * 1024;
/** Trace.packet: field 1, wire type 2 (length-delimited). */
export const TRACE_PACKET_TAG = 0x0a;
/** The longest varint protobuf allows. */
const MAX_VARINT_BYTES = 10;
/** File read size: memory stays at one chunk plus one packet. */
const READ_CHUNK_BYTES = 1024 * 1024;

/** One packet's bytes and where its frame starts in the trace. */
export interface RawPacket {
  /** 0-based position of the packet in the trace. */
  readonly index: number;
  /** Byte offset of the packet's frame (its 0x0a tag) in the trace. */
  readonly offset: number;
  /** The TracePacket message. May share memory with the pushed chunk: copy to keep. */
  readonly bytes: Uint8Array;
}

/** The trace bytes cannot be split into packets. */
export class TraceReadError extends Error {
  constructor(
    message: string,
    /** Byte offset of the problem in the trace. */
    readonly offset: number,
    /** Index of the packet that could not be read (= whole packets before it). */
    readonly packetIndex: number,
  ) {
    super(message);
    this.name = this.constructor.name;
  }
}

/** The stream ends inside a frame: a trace still being written, or cut. */
export class TruncatedTraceError extends TraceReadError {}

/** Bytes no writer produces: not a trace, or damaged. */
export class CorruptTraceError extends TraceReadError {}

/**
 * Incremental splitter: push() chunks as they arrive and get back the whole
 * packets they complete; call end() at end of stream. After corruption,
 * push() returns nothing more and end() returns the error.
 */
export class StreamReader {
  /** Trace offset of the next pushed byte. */
  #offset = 0;
  #packets = 0;
  #error: CorruptTraceError | undefined;
  // The frame being read: its tag was seen at #frameStart; then the length
  // varint (#length so far, #lengthBytes long); then #body, once allocated.
  #inFrame = false;
  #frameStart = 0;
  #length = 0;
  #lengthBytes = 0;
  #body: Uint8Array | undefined;
  #bodyFilled = 0;

  /** The corruption that stopped reading, if any. */
  get error(): CorruptTraceError | undefined {
    return this.#error;
  }

  push(chunk: Uint8Array): readonly RawPacket[] {
    const out: RawPacket[] = [];
    let pos = 0;
    while (pos < chunk.length && this.#error === undefined) {
      pos = this.#body === undefined ? this.#readHeader(chunk, pos, out) : this.#fillBody(chunk, pos, out);
    }
    this.#offset += chunk.length;
    return out;
  }

  /** At end of stream: the error that stopped reading, a cut frame, or undefined. */
  end(): TraceReadError | undefined {
    if (this.#error !== undefined || !this.#inFrame) return this.#error;
    const at = `trace is cut at byte ${this.#offset}: packet ${this.#packets} (at byte ${this.#frameStart})`;
    const what =
      this.#body === undefined
        ? 'ends inside its length prefix'
        : `needs ${this.#body.length - this.#bodyFilled} more bytes`;
    return new TruncatedTraceError(`${at} ${what}`, this.#offset, this.#packets);
  }

  /** Consumes one tag or length byte; once the length is complete, the body too if it is all here. */
  #readHeader(chunk: Uint8Array, pos: number, out: RawPacket[]): number {
    const byte = chunk[pos] as number;
    if (!this.#inFrame) {
      this.#inFrame = true;
      this.#frameStart = this.#offset + pos;
      this.#length = 0;
      this.#lengthBytes = 0;
      if (byte !== TRACE_PACKET_TAG) {
        const what = this.#packets === 0 ? 'not a profinfer trace' : 'trace is corrupt';
        this.#fail(
          `${what} at byte ${this.#frameStart}: packet ${this.#packets} starts with ${hex(byte)}, ` +
            `expected 0x0a (Trace.packet, length-delimited)`,
        );
      }
      return pos + 1;
    }
    // Arithmetic, not bit operations: a hostile varint may exceed 32 bits.
    this.#length += (byte & 0x7f) * 2 ** (7 * this.#lengthBytes);
    this.#lengthBytes++;
    if (byte & 0x80) {
      if (this.#lengthBytes === MAX_VARINT_BYTES) {
        this.#fail(`${this.#where()} has a length prefix longer than ${MAX_VARINT_BYTES} bytes`);
      }
      return pos + 1;
    }
    pos++;
    const length = this.#length;
    if (length > MAX_PACKET_BYTES) {
      this.#fail(`${this.#where()} declares ${length} bytes, over MAX_PACKET_BYTES (${MAX_PACKET_BYTES})`);
      return pos;
    }
    if (chunk.length - pos >= length) {
      this.#emit(chunk.subarray(pos, pos + length), out);
      return pos + length;
    }
    this.#body = new Uint8Array(length);
    this.#bodyFilled = 0;
    return pos;
  }

  #fillBody(chunk: Uint8Array, pos: number, out: RawPacket[]): number {
    const body = this.#body as Uint8Array;
    const take = Math.min(body.length - this.#bodyFilled, chunk.length - pos);
    body.set(chunk.subarray(pos, pos + take), this.#bodyFilled);
    this.#bodyFilled += take;
    if (this.#bodyFilled === body.length) {
      this.#body = undefined;
      this.#emit(body, out);
    }
    return pos + take;
  }

  #emit(bytes: Uint8Array, out: RawPacket[]): void {
    out.push({ index: this.#packets, offset: this.#frameStart, bytes });
    this.#packets++;
    this.#inFrame = false;
  }

  #where(): string {
    return `trace is corrupt at byte ${this.#frameStart}: packet ${this.#packets}`;
  }

  #fail(message: string): void {
    this.#error = new CorruptTraceError(message, this.#frameStart, this.#packets);
  }
}

function hex(byte: number): string {
  return `0x${byte.toString(16).padStart(2, '0')}`;
}

/** Splits a whole trace held in memory. */
export function splitTrace(bytes: Uint8Array): {
  readonly packets: readonly RawPacket[];
  readonly error: TraceReadError | undefined;
} {
  const reader = new StreamReader();
  const packets = reader.push(bytes);
  return { packets, error: reader.end() };
}

/**
 * Packets of a byte stream (a file stream, a socket), in order. Throws the
 * TraceReadError that stops it, after yielding every whole packet before it.
 */
export async function* readTracePackets(
  source: AsyncIterable<Uint8Array>,
): AsyncGenerator<RawPacket, void, undefined> {
  const reader = new StreamReader();
  for await (const chunk of source) {
    yield* reader.push(chunk);
    if (reader.error !== undefined) break; // closes the source
  }
  const error = reader.end();
  if (error !== undefined) throw error;
}

/** Packets of a trace file, read a chunk at a time (never the whole file). */
export function readTraceFile(path: string): AsyncGenerator<RawPacket, void, undefined> {
  return readTracePackets(createReadStream(path, { highWaterMark: READ_CHUNK_BYTES }));
}
