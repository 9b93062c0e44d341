// Recording traces on an emulated device the way a user would: the real
// connect command, a real llama.cpp run inside the device.
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Proc } from '../support/collector.js';
import { llamaBin } from '../support/llama_cpp.js';
import { ensureModel } from '../support/models.js';
import { startCli } from './cli.js';
import type { EmulatedDevice } from './emulated_device.js';

/** Runs llama-simple for `tokens` tokens (enough that the session attaches while it runs) on the device under connect; resolves with the trace id once the run ends. */
export async function recordOnDevice(dev: EmulatedDevice, tokens = 200): Promise<string> {
  const name = `pid${process.pid % 1000}${Math.floor(Math.random() * 1e6)}`.slice(0, 15);
  symlinkSync(llamaBin('llama-simple'), dev.hostPath(`/data/local/tmp/${name}`));
  const out = join(mkdtempSync(join(tmpdir(), 'pi-rec-')), 'run.pftrace');
  const pick = dev.tool === 'hdc' ? ['--hdc', '-t', dev.serial] : ['--adb', '-s', dev.serial];
  const connect = startCli(dev.lab, ['connect', ...pick, '--process', name, '-o', out, '--json']);
  await connect.waitFor('stderr', /started session/, 30_000);
  const x = dev.execArgs(`/data/local/tmp/${name}`, ['-m', ensureModel('tiny', 'q8_0'), '-n', String(tokens), 'Hello my name is']);
  const llama = await new Proc(x.bin, x.args, { timeoutMs: 120_000 }).done;
  if (llama.code !== 0) throw new Error(`llama-simple failed on the device (${llama.code}): ${llama.stderr.slice(-500)}`);
  const r = await connect.done; // the session ends with the target
  if (r.code !== 0) throw new Error(`connect failed (${r.code}): ${r.stderr.slice(-1000)}`);
  return (JSON.parse(r.stdout) as { trace_id: string }).trace_id;
}
