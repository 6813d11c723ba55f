import { Option } from 'commander';
import { DEFAULT_RUNTIME, RUNTIMES } from '../backend/names.js';
import { CONFIG_KEY_NAMES, CONFIG_KEYS, flagOf, type ConfigKey, type KeySpec } from '../train/config.js';
import { number } from './parse.js';

/**
 * Commander options made from the config schema (train/config.ts), so that a flag's name,
 * choices, parser and help are never typed out twice. Train and start take every key; the
 * other commands take the keys they share with training (backend, threads) from here too.
 */
function configOptions(key: ConfigKey, showDefault = true): Option[] {
  const spec: KeySpec = CONFIG_KEYS[key];
  const flag = flagOf(key);
  const help = showDefault && spec.default !== null ? `${spec.help} (default: ${spec.default})` : spec.help;
  switch (spec.kind) {
    case 'boolean':
      return [new Option(flag, help), new Option(`--no-${flag.slice(2)}`, spec.helpOff)];
    case 'choice':
      return [new Option(`${flag} <${spec.valueName}>`, help).choices(spec.choices)];
    case 'number':
      return [new Option(`${flag} <${spec.valueName}>`, help).argParser(number)];
    case 'string':
      return [new Option(`${flag} <${spec.valueName}>`, help)];
  }
}

/** One option of a shared key, with this command's default (e.g. `--backend` for `evaluate`). */
export function configOption(key: ConfigKey, defaultValue?: string | number): Option {
  const [option] = configOptions(key, false);
  return defaultValue === undefined ? option : option.default(defaultValue);
}

/** Every config key as a flag (train, start). None has a commander default: only the flags a user gave become overrides. */
export function allConfigOptions(): Option[] {
  return CONFIG_KEY_NAMES.flatMap((key) => configOptions(key));
}

/** The config overrides among a command's parsed flags (commander camel-cases `--batch-size` to the key `batchSize`). */
export function configOverrides(opts: Record<string, unknown>): Record<string, unknown> {
  const overrides: Record<string, unknown> = {};
  for (const key of CONFIG_KEY_NAMES) if (opts[key] !== undefined) overrides[key] = opts[key];
  return overrides;
}

/** `--runtime`: what runs the model for inference (predict, evaluate, report, compare); training is always TensorFlow.js. */
export function runtimeOption(): Option {
  return new Option(
    '--runtime <name>',
    'what runs the model: tfjs (TensorFlow.js on --backend) or onnx (ONNX Runtime; TensorFlow.js, with a notice, where it does not load)',
  )
    .choices([...RUNTIMES])
    .default(DEFAULT_RUNTIME);
}
