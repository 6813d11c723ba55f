/**
 * /metrics (prom-client): the process's own metrics and the server's series, in a text format
 * that Prometheus's own checker (`promtool check metrics`, Debian's prometheus package) accepts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { PIXELS } from '../../src/data/types.js';
import { Predictor } from '../../src/predict/predictor.js';
import { buildApp, type DrainState } from '../../src/serve/app.js';
import { quickRunDir } from '../helpers/quick-run.js';

let predictor: Predictor;
const drain: DrainState = { draining: false, closing: false };
let app: Awaited<ReturnType<typeof buildApp>>;

before(async () => {
  predictor = await Predictor.load(await quickRunDir(), { batchWindowMs: 0 });
  app = await buildApp({ predictor, drain });
});
after(async () => {
  await app.close();
  await predictor.close();
});

const scrape = async () => (await app.inject({ method: 'GET', url: '/metrics' })).body;
const value = (text: string, series: string) =>
  Number(new RegExp(`^${series.replace(/[{}()[\]|+.]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);

test('the series an operator of a micro-batching server needs, and the process metrics', async () => {
  const pixels = new Array(PIXELS).fill(0);
  // Five requests at once: micro-batching merges them into fewer model calls.
  const answers = await Promise.all(
    Array.from({ length: 5 }, () => app.inject({ method: 'POST', url: '/v1/predict', payload: { pixels } })),
  );
  for (const answer of answers) assert.equal(answer.statusCode, 200, answer.body);
  await app.inject({
    method: 'POST',
    url: '/v1/predict/batch',
    payload: { items: [{ pixels }, { pixels }, { pixels }] },
  });
  drain.closing = true;
  const refused = await app.inject({ method: 'POST', url: '/v1/predict', payload: { pixels } });
  drain.closing = false;
  assert.equal(refused.statusCode, 503);

  const text = await scrape();
  // The images read by model calls add up to the images asked for, in at most as many calls.
  assert.equal(value(text, 'mnist_model_batch_size_sum'), 8);
  const calls = value(text, 'mnist_model_batch_size_count');
  assert.ok(calls >= 1 && calls <= 6, `${calls} model calls`);
  assert.equal(value(text, 'mnist_model_queue_wait_seconds_count'), 6, 'one wait per request that asked');
  assert.ok(value(text, 'mnist_model_queue_wait_seconds_sum') >= 0);
  assert.equal(value(text, 'mnist_http_refusals_total{reason="draining"}'), 1);
  assert.equal(value(text, 'mnist_http_refusals_total{reason="busy"}'), 0);
  assert.equal(value(text, 'mnist_http_requests_in_flight'), 0, 'none: the scrape is a probe, not counted');
  assert.equal(value(text, 'mnist_http_requests_total{method="POST",route="/v1/predict",status="200"}'), 5);
  assert.equal(value(text, 'mnist_http_request_duration_seconds_count{route="/v1/predict"}'), 6);
  assert.match(text, /^mnist_http_request_duration_seconds_bucket\{route="\/v1\/predict",le="0.005"\} \d+$/m);
  assert.equal(value(text, 'mnist_http_errors_total'), 1);
  assert.ok(value(text, 'tfjs_tensors') > 0);
  // prom-client's default metrics: CPU, memory, heap, GC, event-loop lag.
  for (const series of [
    'process_cpu_seconds_total',
    'process_resident_memory_bytes',
    'nodejs_heap_size_used_bytes',
    'nodejs_eventloop_lag_seconds',
    'nodejs_eventloop_lag_p99_seconds',
  ]) {
    assert.ok(Number.isFinite(value(text, series)), `${series} in the output`);
  }
  assert.match(text, /^# TYPE nodejs_gc_duration_seconds histogram$/m);
});

test('promtool check metrics accepts the output', async (t) => {
  const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  if (promtool.error) {
    t.skip('promtool is not installed (Debian package prometheus; .ci/run installs it)');
    return;
  }
  await app.inject({ method: 'POST', url: '/v1/predict', payload: { pixels: new Array(PIXELS).fill(0) } });
  const text = await scrape();
  const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
  assert.equal(`${check.stdout}${check.stderr}`.trim(), '', 'no lint warnings either');
});
