import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Option } from 'commander';
import { DEFAULT_SHIPPED_MODEL, isShippedModelName, SHIPPED_MODELS } from '../model/shipped.js';
import { RUN_FILES } from '../model/run.js';
import { UserError } from '../util/errors.js';

/**
 * Which model a command uses. Every command that reads a model works without one: the model
 * shipped in the package (`default`) unless `--model` names another (a shipped model's name or a
 * run folder) or, as before `--model` existed, the first argument is a run folder.
 */
export function modelOption(): Option {
  return new Option(
    '--model <name|dir>',
    `a run folder, or a model shipped in the package (${SHIPPED_MODELS.join(', ')}; default: ${DEFAULT_SHIPPED_MODEL})`,
  );
}

/** A path that is a run folder (it has metadata.json), or a shipped model's name with no folder of that name here. */
export function isModelArgument(arg: string): boolean {
  if (!existsSync(arg)) return isShippedModelName(arg);
  return statSync(arg).isDirectory() && existsSync(join(arg, RUN_FILES.metadata));
}

/**
 * For commands that take a model and then inputs (`predict [model] <input...>`): the model from
 * `--model`, else the first argument when it is a model (isModelArgument), else the shipped
 * default; the rest are the inputs.
 */
export function modelAndInputs(
  args: string[],
  flag: string | undefined,
  what: string,
): { model: string; inputs: string[] } {
  const [first, ...rest] = args;
  const named = flag === undefined && first !== undefined && isModelArgument(first);
  const model = flag ?? (named ? first : DEFAULT_SHIPPED_MODEL);
  const inputs = named ? rest : args;
  if (inputs.length === 0) throw new UserError(`no ${what} given: name at least one after the model (${model})`);
  return { model, inputs };
}

/** For commands whose only argument is the model (`serve [model]`): the argument or `--model`, not both; else the shipped default. */
export function modelOf(arg: string | undefined, flag: string | undefined): string {
  if (arg !== undefined && flag !== undefined)
    throw new UserError(`the model is given twice: ${arg} and --model ${flag}`);
  return arg ?? flag ?? DEFAULT_SHIPPED_MODEL;
}
