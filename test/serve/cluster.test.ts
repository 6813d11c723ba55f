/**
 * `mnist-cnn serve` as a process (the built CLI: `npm run build` first): several workers under
 * bombs, a killed worker replaced, and start-up failures told in one line with exit code 2.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import sharp from 'sharp';
import { quickRunDir } from '../helpers/quick-run.js';
import { headerBombs, type Bomb } from './fixtures/bombs.js';
import { multipartBody } from './fixtures/http.js';

let runDir: string;
let seven: Uint8Array<ArrayBuffer>;
let bombs: Bomb[];

before(async () => {
  runDir = await quickRunDir();
  seven = new Uint8Array(
    await sharp(
      Buffer.from(
        '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="120"><rect width="120" height="120" fill="white"/><text x="60" y="104" font-size="110" font-family="DejaVu Sans" text-anchor="middle">7</text></svg>',
      ),
    )
      .png()
      .toBuffer(),
  );
  bombs = await headerBombs();
});

/** A `mnist-cnn serve` child; `url` resolves once it prints where it listens. */
function spawnServe(args: string[]) {
  const child = spawn(process.execPath, [resolve('bin/mnist-cnn.js'), 'serve', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  const waitFor = (pattern: RegExp, timeoutMs = 60_000) =>
    new Promise<RegExpExecArray>((done, fail) => {
      const started = Date.now();
      const timer = setInterval(() => {
        const match = pattern.exec(stdout);
        if (match) {
          clearInterval(timer);
          done(match);
        } else if (child.exitCode !== null || Date.now() - started > timeoutMs) {
          clearInterval(timer);
          fail(new Error(`no ${pattern} from serve: ${stdout}${stderr}`));
        }
      }, 50);
    });
  return { child, exited, waitFor, output: () => ({ stdout, stderr }) };
}

const workerPids = (primary: number) =>
  execFileSync('ps', ['-o', 'pid=', '--ppid', String(primary)], { encoding: 'utf8' })
    .split('\n')
    .map((line) => Number(line.trim()))
    .filter((pid) => pid > 0);

const predict = (url: string, body: Uint8Array<ArrayBuffer>, type: string) =>
  fetch(`${url}/v1/predict`, { method: 'POST', body, headers: { 'content-type': type } });

test('--workers 2 survives every bomb, sent to both workers at once, and a killed worker is replaced', async () => {
  const serve = spawnServe([runDir, '--port', '0', '--workers', '2']);
  try {
    const url = (await serve.waitFor(/with 2 worker processes \(docs: (http:\/\/127\.0\.0\.1:\d+)\/docs\)/))[1];
    // Every bomb four times at once, as raw bodies and as form files: both workers get some.
    const sends = bombs.flatMap((bomb) =>
      [0, 1, 2, 3].map(async (i) => {
        const response =
          i % 2 === 0 && bomb.type !== 'application/octet-stream'
            ? await predict(url, bomb.bytes, bomb.type)
            : await predict(
                url,
                new Uint8Array(
                  multipartBody([{ name: 'file', filename: 'f', type: 'application/octet-stream', data: bomb.bytes }]),
                ),
                'multipart/form-data; boundary=XBOUNDARYX',
              );
        return [bomb, response.status] as const;
      }),
    );
    for (const [bomb, status] of await Promise.all(sends)) assert.equal(status, bomb.status, bomb.name);
    const answers = await Promise.all(Array.from({ length: 8 }, () => predict(url, seven, 'image/png')));
    assert.ok(answers.every((r) => r.status === 200));
    assert.doesNotMatch(serve.output().stdout, /starting another/, 'no worker died of a bomb');
    assert.equal(serve.output().stderr, '', 'nothing logged');

    const [victim] = workerPids(serve.child.pid ?? 0);
    assert.ok(victim, 'a worker process');
    process.kill(victim, 'SIGKILL');
    await serve.waitFor(new RegExp(`worker ${victim} exited with signal SIGKILL; starting another`));
    // Served meanwhile by the survivor, then by both again.
    const during = await Promise.all(Array.from({ length: 8 }, () => predict(url, seven, 'image/png')));
    assert.ok(during.every((r) => r.status === 200));
    for (let i = 0; i < 100 && workerPids(serve.child.pid ?? 0).length < 2; i++)
      await new Promise((r) => setTimeout(r, 100));
    const workers = workerPids(serve.child.pid ?? 0);
    assert.equal(workers.length, 2);
    assert.ok(!workers.includes(victim));
  } finally {
    serve.child.kill('SIGTERM');
  }
  assert.equal(await serve.exited, 0);
});

test('start-up failures are one line on stderr and exit code 2: port out of range, body limit 0, port in use (one or two workers), an address not of this machine', async () => {
  const taken = createServer();
  await new Promise<void>((done) => taken.listen(0, '127.0.0.1', done));
  const port = String((taken.address() as { port: number }).port);
  try {
    const cases: [string[], RegExp][] = [
      [['--port', '70000'], /^error: --port 70000: the port must be a whole number from 0 to 65535$/],
      [['--body-limit', '0'], /^error: --body-limit 0: the body limit in bytes must be a whole number from 1 to \d+$/],
      [['--port', port], new RegExp(`^error: cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use`)],
      [
        ['--port', port, '--workers', '2'],
        new RegExp(`^error: cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use`),
      ],
      [
        ['--host', '192.0.2.1', '--port', '0'],
        /^error: cannot listen on 192\.0\.2\.1:0: 192\.0\.2\.1 is not an address of this machine \(--host\)$/,
      ],
    ];
    for (const [args, message] of cases) {
      const serve = spawnServe([runDir, ...args]);
      assert.equal(await serve.exited, 2, args.join(' '));
      const lines = serve.output().stderr.trim().split('\n');
      assert.equal(lines.length, 1, `${args.join(' ')}: ${serve.output().stderr}`);
      assert.match(lines[0], message);
    }
  } finally {
    taken.close();
  }
});

test('SIGTERM drains for --drain-timeout at most: a request that never ends does not keep the server up', async () => {
  const serve = spawnServe([runDir, '--port', '0', '--drain-timeout', '1']);
  const url = (await serve.waitFor(/at (http:\/\/127\.0\.0\.1:\d+)/))[1];
  const { connect, head } = await import('./fixtures/http.js');
  const stuck = await connect(url);
  stuck.write(
    head('POST', '/v1/predict', { 'Content-Type': 'application/json', 'Content-Length': 10_000 }) + '{"pixels": [',
  );
  await new Promise((r) => setTimeout(r, 200));
  serve.child.kill('SIGTERM');
  assert.equal(await serve.exited, 0);
  await stuck.closed;
});
