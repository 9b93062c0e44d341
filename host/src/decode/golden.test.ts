// The TS decoder against the golden vectors in proto/testdata: each
// <case>.bin (made by `protoc --encode` from <case>.textproto) must decode to
// exactly <case>.expected.json. The C twin, collector-c/test/golden_test.c,
// checks its encoder produces the same .bin byte for byte.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { ClientMessage, ServerMessage, TracePacket, longToBigInt } from '../proto.js';
import { JSON_OPTIONS, decodePacket, packetToJson } from './packets.js';
import { splitTrace } from './stream_reader.js';

const TESTDATA = new URL('../../../proto/testdata/', import.meta.url);

function read(name: string): Buffer {
  return readFileSync(new URL(name, TESTDATA));
}

/** The `# proto-message: profinfer.v1.X` line of a textproto. */
function messageType(name: string): string {
  const match = /^# proto-message: profinfer\.v1\.(\w+)$/m.exec(read(`${name}.textproto`).toString());
  if (match === null) throw new Error(`${name}.textproto has no '# proto-message:' line`);
  return match[1] as string;
}

function decodeAsJson(type: string, bytes: Uint8Array): unknown {
  switch (type) {
    case 'TracePacket':
      return packetToJson(TracePacket.decode(bytes));
    case 'ClientMessage':
      return ClientMessage.toObject(ClientMessage.decode(bytes), JSON_OPTIONS);
    case 'ServerMessage':
      return ServerMessage.toObject(ServerMessage.decode(bytes), JSON_OPTIONS);
    case 'Trace': {
      const { packets, error } = splitTrace(bytes);
      if (error !== undefined) throw error;
      return packets.map((raw) => packetToJson(decodePacket(raw)));
    }
    default:
      throw new Error(`no decoder for golden type ${type}`);
  }
}

const cases = readdirSync(TESTDATA)
  .filter((f) => f.endsWith('.textproto'))
  .map((f) => f.replace(/\.textproto$/, ''))
  .sort();

describe('golden vectors', () => {
  test('cover every packet kind the brief names', () => {
    expect(cases).toEqual(
      expect.arrayContaining([
        'session_info',
        'token_event',
        'graph_event',
        'node_event_batch',
        'graph_structure',
        'loss_stats',
        'client_hello',
        'client_start',
        'server_error',
        'trace_multi',
      ]),
    );
  });

  test.each(cases)('%s.bin decodes to %s.expected.json', (name) => {
    const expected: unknown = JSON.parse(read(`${name}.expected.json`).toString());
    expect(decodeAsJson(messageType(name), read(`${name}.bin`))).toEqual(expected);
  });

  test('uint64 above 2^53 survives exactly', () => {
    const packet = TracePacket.decode(read('session_info.bin'));
    expect(longToBigInt(packet.session?.clockRealtimeNs)).toBe(1735689600123456789n);
  });
});
