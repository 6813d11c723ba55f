/**
 * The server's Prometheus metrics, with prom-client: its default process metrics (CPU, resident
 * memory, heap, GC, event-loop lag, handles) and what an operator of a micro-batching server
 * watches: requests by route and status and their latency, requests in flight, refusals by
 * reason, and per model call the images it read and how long its callers waited for it.
 */
import * as tf from '@tensorflow/tfjs';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ModelCall } from '../predict/predictor.js';

/** Request latency buckets (s). */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
/** Images per model call: powers of two up to the largest batch a request may send. */
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];
/** Time from a caller's predict to the start of the model call that answers it (s). */
const WAIT_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/** Why a request was refused without being answered by its route. */
export type RefusalReason = 'busy' | 'draining' | 'timeout' | 'rate_limited';

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'mnist_http_requests_total',
    help: 'HTTP requests served, by method, route and status.',
    labelNames: ['method', 'route', 'status'],
    registers: [this.registry],
  });
  private readonly duration = new Histogram({
    name: 'mnist_http_request_duration_seconds',
    help: 'Time to answer a request, by route.',
    labelNames: ['route'],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly errors = new Counter({
    name: 'mnist_http_errors_total',
    help: 'Requests answered with a 4xx or 5xx status.',
    registers: [this.registry],
  });
  private readonly refusals = new Counter({
    name: 'mnist_http_refusals_total',
    help: 'Requests refused before their route answered, by reason: busy (requests in flight at the cap), draining, timeout (the answer took too long), rate_limited.',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  private readonly batchSize = new Histogram({
    name: 'mnist_model_batch_size',
    help: 'Images per model call (micro-batching merges the requests that arrive together).',
    buckets: BATCH_BUCKETS,
    registers: [this.registry],
  });
  private readonly queueWait = new Histogram({
    name: 'mnist_model_queue_wait_seconds',
    help: 'Time from a request asking for predictions to the start of the model call that answers it (batch window and queue).',
    buckets: WAIT_BUCKETS,
    registers: [this.registry],
  });

  /** `inFlight`: the requests being received or answered now (hardening.ts's in-flight cap counts them). */
  constructor(inFlight: () => number) {
    collectDefaultMetrics({ register: this.registry });
    // Gauges named like counters, which promtool's lint refuses; their totals are the sums of
    // nodejs_active_handles, _requests and _resources (by type), which stay.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'])
      this.registry.removeSingleMetric(name);
    for (const refusal of ['busy', 'draining', 'timeout', 'rate_limited'] satisfies RefusalReason[])
      this.refusals.inc({ reason: refusal }, 0);
    const gauges: [name: string, help: string, read: () => number][] = [
      [
        'mnist_http_requests_in_flight',
        'Requests being received or answered (probes and scrapes not counted).',
        inFlight,
      ],
      [
        'tfjs_tensors',
        'Tensors alive in TensorFlow.js (a number that grows means a leak).',
        () => tf.memory().numTensors,
      ],
      ['tfjs_bytes', 'Bytes held by TensorFlow.js tensors.', () => tf.memory().numBytes],
    ];
    for (const [name, help, read] of gauges) {
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(read());
        },
      });
    }
  }

  observe(method: string, route: string, status: number, seconds: number): void {
    this.requests.inc({ method, route, status });
    this.duration.observe({ route }, seconds);
    if (status >= 400) this.errors.inc();
  }

  refused(reason: RefusalReason): void {
    this.refusals.inc({ reason });
  }

  /** A model call of the served Predictor (Predictor.onModelCall). */
  modelCall(call: ModelCall): void {
    this.batchSize.observe(call.images);
    for (const seconds of call.waitSeconds) this.queueWait.observe(seconds);
  }

  /**
   * The text format, with `le` last among a bucket's labels, where the series had it before
   * prom-client and where Prometheus's own Go client writes it (the order means nothing to Prometheus).
   */
  async render(): Promise<string> {
    return (await this.registry.metrics()).replace(/_bucket\{(le="[^"]*"),([^}]+)\}/g, '_bucket{$2,$1}');
  }
}
