import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommanderError } from 'commander';
import { EXIT_BUG, EXIT_FAILURE, failureReport } from '../../src/cli/program.js';
import { UserError } from '../../src/util/errors.js';
import { quickRunDir } from '../helpers/quick-run.js';
import { writeConfig } from '../helpers/config-files.js';

const run = (...args: string[]) => spawnSync(process.execPath, ['bin/mnist-cnn.js', ...args], { encoding: 'utf8' });

/** Asynchronously, for commands that take a while (serve loads a model), so several can wait at once. */
function runAsync(...args: string[]): Promise<{ status: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['bin/mnist-cnn.js', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((done) => child.on('exit', (status) => done({ status, stderr })));
}

/** One line on stderr, "error: ...", exit code 2, and no stack trace. */
function assertOneLineFailure(result: { status: number | null; stderr: string }, message: RegExp): void {
  assert.equal(result.status, 2, result.stderr);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line: ${result.stderr}`);
  assert.match(lines[0], /^error: /);
  assert.match(lines[0], message);
}

test('the CLI rejects unknown flags and bad values with a clear message and exit code', () => {
  const unknown = run('train', '--epoch', '3');
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown option '--epoch'/);
  const notNumber = run('train', '--lr', 'fast');
  assert.notEqual(notNumber.status, 0);
  assert.match(notNumber.stderr, /'fast' is not a number/);
  const badFile = run('train', '--config', writeConfig({ bogus: 1 }));
  assert.equal(badFile.status, 2);
  assert.match(badFile.stderr, /error: .*train\.json: unknown config key 'bogus'/);
  const resumeWithFlags = run('train', '--resume', '/tmp/x', '--epochs', '3');
  assert.equal(resumeWithFlags.status, 2);
  assert.match(resumeWithFlags.stderr, /--resume continues a run with its saved config\.json/);
  const summary = run('train', '--summary', '--arch', 'lenet5');
  assert.equal(summary.status, 0);
  assert.match(summary.stdout, /Total params: 61706/);
  for (const command of ['data', 'train', 'start', 'evaluate', 'report', 'runs', 'compare', 'predict', 'serve']) {
    const help = run(command, '--help');
    assert.equal(help.status, 0, `${command} --help`);
    assert.match(help.stdout, new RegExp(`Usage: mnist-cnn ${command}`));
  }
});

test('ordinary failures are one line and exit 2: an --out the system refuses, an invalid config.json at resume, flags that do not go together', (t) => {
  const work = mkdtempSync(join(tmpdir(), 'mnist-cnn-program-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  writeFileSync(join(work, 'a-file'), '');
  assertOneLineFailure(
    run('train', '--out', join(work, 'a-file', 'run')),
    /cannot create the run folder .*a-file\/run: a part of the path is not a folder \(ENOTDIR, mkdir\)$/,
  );
  if (process.getuid?.() === 0) {
    t.diagnostic(
      'running as root: permissions do not apply, EACCES on --out is checked by test/util/errors.test.ts only',
    );
  } else {
    mkdirSync(join(work, 'locked'));
    chmodSync(join(work, 'locked'), 0o500);
    assertOneLineFailure(
      run('train', '--out', join(work, 'locked', 'run')),
      /locked\/run: permission denied \(EACCES, mkdir\)$/,
    );
  }
  const runDir = join(work, 'run');
  mkdirSync(runDir);
  writeFileSync(join(runDir, 'config.json'), '{"epochs": 3,');
  assertOneLineFailure(run('train', '--resume', runDir), new RegExp(`${join(runDir, 'config.json')}: not valid JSON`));
  writeFileSync(join(runDir, 'config.json'), '{"epochs": -3}');
  assertOneLineFailure(
    run('train', '--resume', runDir),
    new RegExp(`${join(runDir, 'config.json')}: 'epochs' must be a whole number >= 1, got -3`),
  );
  assertOneLineFailure(run('train', '--allow-config-change'), /--allow-config-change goes with --resume/);
  // A damaged checkpoint: refused in one line naming the file, after the data is loaded and the wasm backend started.
  writeFileSync(join(runDir, 'config.json'), '{"limit": 1000, "valCount": 100, "epochs": 1}');
  const last = join(runDir, 'checkpoints', 'last');
  mkdirSync(last, { recursive: true });
  writeFileSync(join(last, 'state.json'), '{"epoch": 0, "batch": 3, "step": "three"}');
  writeFileSync(join(last, 'optimizer.json'), '{}');
  writeFileSync(join(last, 'optimizer.bin'), '');
  assertOneLineFailure(
    run('train', '--resume', runDir, '--quiet'),
    new RegExp(
      `${join(last, 'state.json')}: not a training state this program wrote \\('step' must be a whole number >= 0, got "three"\\)`,
    ),
  );
});

test('serve: a port in use, a port out of range, an address not of this machine are one line and exit 2', async () => {
  const runDir = await quickRunDir();
  const taken = createServer().listen(0, '127.0.0.1');
  await new Promise((done) => taken.once('listening', done));
  const port = (taken.address() as AddressInfo).port;
  try {
    const [inUse, outOfRange, foreign] = await Promise.all([
      runAsync('serve', runDir, '--port', String(port), '--quiet'),
      runAsync('serve', runDir, '--port', '70000', '--quiet'),
      // 192.0.2.1: TEST-NET-1, for documentation only (RFC 5737): no machine has it.
      runAsync('serve', runDir, '--host', '192.0.2.1', '--port', '0', '--quiet'),
    ]);
    assertOneLineFailure(inUse, new RegExp(`${port}`));
    assertOneLineFailure(outOfRange, /70000/);
    assertOneLineFailure(foreign, /192\.0\.2\.1/);
  } finally {
    taken.close();
  }
});

test('failureReport: one line and exit 2 for what the user can act on, the stack and exit 70 for a bug', () => {
  assert.deepEqual(failureReport(new UserError('runs/a does not exist')), {
    text: 'error: runs/a does not exist',
    exitCode: EXIT_FAILURE,
  });
  const full = Object.assign(new Error('ENOSPC: no space left on device, write'), {
    code: 'ENOSPC',
    syscall: 'write',
    path: '/runs/a/checkpoints/last.tmp-7/weights.bin',
  });
  assert.deepEqual(failureReport(full), {
    text: 'error: /runs/a/checkpoints/last.tmp-7/weights.bin: no space left on the device (ENOSPC, write)',
    exitCode: EXIT_FAILURE,
  });
  const denied = Object.assign(new Error('EACCES: permission denied, mkdir'), {
    code: 'EACCES',
    syscall: 'mkdir',
    path: '/srv/runs',
  });
  assert.deepEqual(failureReport(denied), {
    text: 'error: /srv/runs: permission denied (EACCES, mkdir)',
    exitCode: EXIT_FAILURE,
  });
  // Commander printed its own message; help and --version are not failures.
  assert.deepEqual(failureReport(new CommanderError(1, 'commander.unknownOption', "error: unknown option '--epoch'")), {
    exitCode: EXIT_FAILURE,
  });
  assert.deepEqual(failureReport(new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)')), { exitCode: 0 });
  const bug = failureReport(new TypeError("Cannot read properties of undefined (reading 'shape')"));
  assert.equal(bug.exitCode, EXIT_BUG);
  assert.match(
    bug.text!,
    /^error: an internal error, which is a bug in mnist-cnn [\d.]+; please report it with what follows:\nTypeError: Cannot read properties of undefined \(reading 'shape'\)\n {4}at /,
  );
  assert.match(failureReport('thrown as a string').text!, /bug.*\nthrown as a string$/);
});
