// The shell listing of a device's trace directory (no service running):
// files and sizes joined with the service's index, hostile lines dropped.
import { describe, expect, it } from 'vitest';
import { listScript, parseListing } from './device_traces.js';

const SEP = '---profinfer---';
const HEADER = '# profinfer trace index v1: trace_id session_id status start_unix_ns end_unix_ns size_bytes target';

describe('parseListing', () => {
  it('joins files with the index; running becomes truncated; unindexed files are kept', () => {
    const out = [
      '1200 20261123-0101-aaaa.pftrace',
      '900 20261123-0102-bbbb.pftrace',
      '77 20261123-0103-cccc.pftrace',
      SEP,
      HEADER,
      '20261123-0101-aaaa\ts-1\tcomplete\t1000\t2000\t1200\tpid 42 llama-cli',
      '20261123-0102-bbbb\ts-2\trunning\t3000\t0\t500\tname llama-cli',
    ].join('\n');
    expect(parseListing(out)).toEqual([
      { trace_id: '20261123-0101-aaaa', status: 'complete', size_bytes: 1200, start_unix_ns: 1000n, target: 'pid 42 llama-cli' },
      { trace_id: '20261123-0102-bbbb', status: 'truncated', size_bytes: 900, start_unix_ns: 3000n, target: 'name llama-cli' },
      { trace_id: '20261123-0103-cccc', status: 'unindexed', size_bytes: 77, start_unix_ns: 0n, target: '' },
    ]);
  });

  it('a complete trace keeps the size its index says (a shorter file then fails verification)', () => {
    const out = `10 t-1.pftrace\n${SEP}\nt-1\ts\tcomplete\t1\t2\t999\tx\n`;
    expect(parseListing(out)[0]?.size_bytes).toBe(999);
  });

  it('drops names that are not trace ids and malformed index lines', () => {
    const out = `12 ../../etc/passwd.pftrace\n5 UPPER.pftrace\n7 ok-1.pftrace\n${SEP}\nok-1\ts\tcomplete\tnotanumber\t2\t7\tx\n`;
    expect(parseListing(out)).toEqual([{ trace_id: 'ok-1', status: 'unindexed', size_bytes: 7, start_unix_ns: 0n, target: '' }]);
  });

  it('lists through ls in the trace directory', () => {
    expect(listScript()).toMatch(/^cd \/data\/local\/tmp\/profinfer\/traces .*\$\(ls\).*cat index\.tsv/);
  });
});
