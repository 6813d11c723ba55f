import { Command, CommanderError } from 'commander';
import { UserError } from '../util/errors.js';
import { VERSION } from '../util/version.js';
import { registerData } from './commands/data.js';
import { registerTrain } from './commands/train.js';
import { registerEvaluate } from './commands/evaluate.js';
import { registerPredict } from './commands/predict.js';
import { registerServe } from './commands/serve.js';
import { registerEnsemble } from './commands/ensemble.js';

/** The CLI is a thin shell: each command parses flags and calls the library. */
function buildProgram(): Command {
  const program = new Command('mnist-cnn')
    .description('Train, evaluate, serve and explain a convolutional network on MNIST')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)');
  registerData(program);
  registerTrain(program);
  registerEvaluate(program);
  registerPredict(program);
  registerServe(program);
  registerEnsemble(program);
  // Every subcommand rejects unknown flags and extra arguments.
  for (const command of program.commands) command.allowExcessArguments(false);
  return program;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    if (err instanceof UserError) {
      console.error(`error: ${err.message}`);
      process.exitCode = 2;
      return;
    }
    throw err;
  }
}

