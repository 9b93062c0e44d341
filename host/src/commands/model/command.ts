// `profinfer-host model generate|path`: random-weight llama GGUF models for
// offline profiling. Flags only; the handler is loaded lazily.
import type { Argv, CommandModule } from 'yargs';
import { handleErrors } from '../handle_errors.js';
import { DEFAULT_SEED, PRESET_NAMES, WEIGHT_TYPE_NAMES, type PresetName, type WeightTypeName } from '../../gguf/model_generator.js';

export interface ModelArgs {
  preset: PresetName;
  type: WeightTypeName;
  seed: number;
  output?: string;
  force?: boolean;
  verbose?: boolean;
}

function modelOptions<T>(y: Argv<T>) {
  return y
    .option('preset', { choices: PRESET_NAMES, demandOption: true, describe: 'Model shape' })
    .option('type', { choices: WEIGHT_TYPE_NAMES, default: 'q8_0' as WeightTypeName, describe: 'Weight type (norms stay F32)' })
    .option('seed', { type: 'number', default: DEFAULT_SEED, describe: 'PRNG seed: the same seed gives the same bytes' });
}

const generate: CommandModule<object, ModelArgs> = {
  command: 'generate',
  describe: 'Write a llama GGUF model with random weights (cached; skipped if present)',
  builder: (y) =>
    modelOptions(y)
      .option('output', { alias: 'o', type: 'string', describe: 'Output path (default: the cache path, see `model path`)' })
      .option('force', { type: 'boolean', default: false, describe: 'Regenerate even if the file exists' })
      .example('$0 model generate --preset tiny --type f16', 'dense 4-layer model, ~6 MB')
      .example('$0 model generate --preset moe --type q8_0', '8-expert MoE, 2 used per token')
      .example('$0 model generate --preset tinyllama-1.1b --type q8_0 -o /tmp/tl.gguf', 'TinyLlama-shaped, ~1.2 GB') as Argv<ModelArgs>,
  handler: (args) => handleErrors(args.verbose, async () => (await import('./model.js')).generateCommand(args)),
};

const path: CommandModule<object, ModelArgs> = {
  command: 'path',
  describe: 'Print where `model generate` puts a model by default',
  builder: (y) => modelOptions(y).example('$0 model path --preset tiny --type q8_0', '') as Argv<ModelArgs>,
  handler: (args) => handleErrors(args.verbose, async () => (await import('./model.js')).pathCommand(args)),
};

export const modelCommand: CommandModule<object, object> = {
  command: 'model <command>',
  describe: 'Generate offline test models (llama / MoE GGUF with random weights)',
  builder: (y) => y.command(generate).command(path).demandCommand(1, 'Pass `generate` or `path`.'),
  handler: () => undefined,
};
