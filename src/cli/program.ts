import { Command, CommanderError } from 'commander';
import { describeExpectedFailure } from '../util/errors.js';
import { VERSION } from '../util/version.js';
import { registerData } from './commands/data.js';
import { registerTrain } from './commands/train.js';
import { registerEvaluate } from './commands/evaluate.js';
import { registerPredict } from './commands/predict.js';
import { registerServe } from './commands/serve.js';
import { registerEnsemble } from './commands/ensemble.js';
import { registerExport } from './commands/export.js';
import { registerInspect } from './commands/inspect.js';
import { registerFinetune } from './commands/finetune.js';
import { registerBaselines } from './commands/baselines.js';

/**
 * Exit codes. 0: done. 1: `predict` read some inputs but not all. 2: an expected failure (a
 * usage error, a bad file or flag, a full disk, a port in use), told in one line. 70
 * (sysexits' EX_SOFTWARE): a bug, told with its stack. 130 and 143: training stopped by Ctrl-C
 * or SIGTERM, with a checkpoint.
 */
export const EXIT_FAILURE = 2;
export const EXIT_BUG = 70;

/** The CLI is a thin shell: each command parses flags and calls the library. */
function buildProgram(): Command {
  const program = new Command('mnist-cnn')
    .description('Train, evaluate, serve and explain a convolutional network on MNIST')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerData(program);
  registerTrain(program);
  registerEvaluate(program);
  registerPredict(program);
  registerServe(program);
  registerEnsemble(program);
  registerExport(program);
  registerInspect(program);
  registerFinetune(program);
  registerBaselines(program);
  // Every subcommand rejects unknown flags and extra arguments, and hands its usage errors to main.
  for (const command of program.commands) command.allowExcessArguments(false).exitOverride();
  return program;
}

/**
 * What to tell the user about a failure, and the exit code: one line for an expected failure
 * (UserError, a system problem such as EACCES or ENOSPC: util/errors.ts), the stack for anything
 * else, said to be a bug. Commander has already printed its own usage errors.
 */
export function failureReport(err: unknown): { text?: string; exitCode: number } {
  if (err instanceof CommanderError) return { exitCode: err.exitCode === 0 ? 0 : EXIT_FAILURE };
  const expected = describeExpectedFailure(err);
  if (expected !== undefined) return { text: `error: ${expected}`, exitCode: EXIT_FAILURE };
  const detail = err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err);
  return {
    text: `error: an internal error, which is a bug in mnist-cnn ${VERSION}; please report it with what follows:\n${detail}`,
    exitCode: EXIT_BUG,
  };
}

/** Print a failure as failureReport says and set the process's exit code. */
export function reportFailure(err: unknown): void {
  const { text, exitCode } = failureReport(err);
  if (text) console.error(text);
  process.exitCode = exitCode;
}

/** Run the CLI on `argv`. It never throws: a failure is reported and sets the exit code. */
export async function main(argv: string[] = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    reportFailure(err);
  }
}
