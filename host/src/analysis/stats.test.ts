import { describe, expect, it } from 'vitest';
import { contextLines, contextStats } from './stats.js';
import type { TokenRow } from './trace_model.js';

let seq = 0;
const call = (contextId: string, nTokens: number, o: Partial<TokenRow> = {}): TokenRow => ({
  seq: ++seq, pid: 1, tid: 1, start: seq * 1000, duration: 100 * nTokens, nTokens, contextId, result: 0, nodeLevel: true, ...o,
});

describe('contextStats (speculative decoding)', () => {
  it('tells draft from target by the target\'s verify batches, and counts drafted tokens per round', () => {
    seq = 0;
    const calls: TokenRow[] = [
      call('0xt', 6), // target prompt
      call('0xd', 6), // draft prompt
      call('0xd', 1), call('0xd', 1), call('0xd', 1), // round 1: 3 drafted
      call('0xt', 4), // verify 3 + 1
      call('0xd', 1), // round 2: 1 drafted
      call('0xt', 2),
      call('0xd', 1), call('0xd', 1), // drafted after the last verify: no round
      call('0xt', 1, { result: 1 }),
    ];
    const [target, draft] = contextStats(calls);
    expect(target).toMatchObject({
      contextId: '0xt', role: 'target', calls: 4, tokens: 13, promptCalls: 1, decodeCalls: 1, verifyCalls: 2, failed: 1,
      busyNs: 1300, acceptance: undefined,
    });
    expect(target?.verifyTokens).toMatchObject({ count: 2, mean: 3, min: 2, max: 4 });
    expect(target?.draftedPerRound).toBeUndefined();
    expect(draft).toMatchObject({ contextId: '0xd', role: 'draft', calls: 7, tokens: 12, promptCalls: 1, decodeCalls: 6, verifyCalls: 0 });
    expect(draft?.draftedPerRound).toMatchObject({ count: 2, mean: 2, min: 1, max: 3 });
    const text = contextLines([target, draft].filter((c) => c !== undefined)).join('\n');
    expect(text).toMatch(/^\s+0xt\s+1\s+target\s+4\s+13\s+1\s+1\s+2\s+3\.00\s+-\s+0\.00$/m);
    expect(text).toMatch(/^\s+0xd\s+1\s+draft\s+7\s+12\s+1\s+6\s+0\s+-\s+2\.00\s+0\.00$/m);
    expect(contextLines(contextStats([call('0xa', 1)]))).toEqual([]);
  });

  it('calls a lone context single, and several without verify batches other', () => {
    seq = 0;
    expect(contextStats([call('0xa', 5), call('0xa', 1), call('0xa', 1)]).map((c) => [c.role, c.promptCalls, c.decodeCalls])).toEqual([
      ['single', 1, 2],
    ]);
    const two = contextStats([call('0xa', 5), call('0xb', 5), call('0xa', 1), call('0xb', 1)]);
    expect(two.map((c) => c.role)).toEqual(['other', 'other']);
    // Contexts of different processes are separate, even with equal addresses.
    const procs = contextStats([call('0xa', 1), call('0xa', 1, { pid: 2 })]);
    expect(procs.map((c) => [c.pid, c.role])).toEqual([[1, 'single'], [2, 'single']]);
  });
});
