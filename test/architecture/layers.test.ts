/**
 * The layer map of ARCHITECTURE.md, as .dependency-cruiser.cjs states it, holds for src/, and
 * it would catch a change that breaks it: an upward import, a sideways one between peers, a
 * cycle, a folder that is on no layer.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const CONFIG = resolve('.dependency-cruiser.cjs');
const DEPCRUISE = resolve('node_modules', '.bin', 'depcruise');
const fixtures: string[] = [];
after(() => fixtures.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

/** Run dependency-cruiser with the project's rules over `src/` under `cwd`; its violations. */
function cruise(cwd: string): Violation[] {
  const result = spawnSync(DEPCRUISE, ['src', '--config', CONFIG, '--output-type', 'json'], { cwd, encoding: 'utf8' });
  assert.ok(result.stdout, `dependency-cruiser printed nothing: ${result.stderr}`);
  return JSON.parse(result.stdout).summary.violations;
}

/** A throw-away tree of TypeScript files: { 'src/model/a.ts': "import ..." }. */
function fixture(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'mnist-cnn-layers-'));
  fixtures.push(dir);
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext' } }),
  );
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

const rulesBroken = (violations: Violation[]) => violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`);

test('src/ imports only downward, has no cycle, and every folder is on the layer map', () => {
  assert.deepEqual(rulesBroken(cruise(resolve('.'))), []);
});

test('an upward import fails (model → train), and so does a sideways one between peers (image → model)', () => {
  const violations = cruise(
    fixture({
      'src/train/trainer.ts': 'export const train = 1;\n',
      'src/model/io.ts': "import { train } from '../train/trainer.js';\nexport const io = train;\n",
      'src/image/ops.ts': "import { io } from '../model/io.js';\nexport const ops = io;\n",
      'src/util/fs.ts': 'export const fs = 1;\n',
      'src/data/load.ts': "import { fs } from '../util/fs.js';\nexport const load = fs;\n",
    }),
  );
  assert.deepEqual(rulesBroken(violations).sort(), [
    'image-imports-downward: src/image/ops.ts → src/model/io.ts',
    'model-imports-downward: src/model/io.ts → src/train/trainer.ts',
  ]);
});

test('a cycle between files fails, and so does a folder that is on no layer', () => {
  const violations = cruise(
    fixture({
      'src/data/a.ts': "import { b } from './b.js';\nexport const a = () => b;\n",
      'src/data/b.ts': "import { a } from './a.js';\nexport const b = () => a;\n",
      'src/extras/x.ts': 'export const x = 1;\n',
    }),
  );
  const names = new Set(violations.map((v) => v.rule.name));
  assert.ok(names.has('no-circular'), rulesBroken(violations).join('\n'));
  assert.ok(names.has('unlisted-folder'), rulesBroken(violations).join('\n'));
});

test("browser code reaches no Node built-in, and only the Train panel's workers reach the wasm backend", () => {
  const dir = fixture({
    'src/backend/kernels.ts': "import '@tensorflow/tfjs-backend-wasm';\nexport const kernels = 1;\n",
    'src/serve/page/train-worker.ts':
      "import { kernels } from '../../backend/kernels.js';\nexport const worker = kernels;\n",
    'src/serve/page/main.ts': "import { kernels } from '../../backend/kernels.js';\nexport const page = kernels;\n",
    'src/browser/index.ts': "import { readFileSync } from 'node:fs';\nexport const read = readFileSync;\n",
  });
  // The real packages, so that the wasm backend resolves as it does in the project.
  symlinkSync(resolve('node_modules'), join(dir, 'node_modules'));
  const broken = cruise(dir).map((v) => `${v.rule.name}: ${v.from}`);
  assert.deepEqual([...new Set(broken)].sort(), [
    'browser-safe: src/browser/index.ts',
    'wasm-in-workers-only: src/serve/page/main.ts',
  ]);
});
