import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { registerBaselines } from '../../../src/cli/commands/baselines.js';

/** `mnist-cnn baselines ...` in this process, on its own program. */
async function baselines(...args: string[]): Promise<void> {
  const program = new Command().exitOverride();
  registerBaselines(program);
  await program.parseAsync(['baselines', ...args], { from: 'user' });
}

test('baselines refuses a --run or --lenet folder that does not exist before training anything, naming it', async () => {
  await assert.rejects(baselines('--run', '/nonexistent/cnn-run'), /\/nonexistent\/cnn-run does not exist/);
  await assert.rejects(
    baselines('--run', '/tmp', '--lenet', '/nonexistent/lenet-run'),
    /\/nonexistent\/lenet-run does not exist/,
  );
});
