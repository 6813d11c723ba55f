import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const configDirs: string[] = [];
after(() => configDirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

const writeConfig = (value: unknown): string => {
  const dir = mkdtempSync(join(tmpdir(), 'mnist-cnn-config-'));
  configDirs.push(dir);
  const path = join(dir, 'train.json');
  writeFileSync(path, JSON.stringify(value));
  return path;
};

test('the CLI rejects unknown flags and bad values with a clear message and exit code', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, ['bin/mnist-cnn.js', ...args], { encoding: 'utf8' });
  const unknown = run('train', '--epoch', '3');
  assert.notEqual(unknown.status, 0);
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
