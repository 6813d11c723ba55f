import * as tf from '@tensorflow/tfjs';

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** Request counts, a latency histogram and errors, in the Prometheus text format. */
export class ServerMetrics {
  private readonly requests = new Map<string, number>();
  private readonly histogram = new Map<string, { buckets: number[]; sum: number; count: number }>();
  private errors = 0;

  observe(method: string, route: string, status: number, seconds: number): void {
    const key = `method="${method}",route="${route}",status="${status}"`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    const routeKey = `route="${route}"`;
    const h = this.histogram.get(routeKey) ?? { buckets: BUCKETS.map(() => 0), sum: 0, count: 0 };
    BUCKETS.forEach((le, i) => {
      if (seconds <= le) h.buckets[i]++;
    });
    h.sum += seconds;
    h.count++;
    this.histogram.set(routeKey, h);
    if (status >= 400) this.errors++;
  }

  render(): string {
    const lines: string[] = [
      '# HELP mnist_http_requests_total HTTP requests served, by method, route and status.',
      '# TYPE mnist_http_requests_total counter',
      ...[...this.requests].map(([labels, n]) => `mnist_http_requests_total{${labels}} ${n}`),
      '# HELP mnist_http_request_duration_seconds Time to answer a request, by route.',
      '# TYPE mnist_http_request_duration_seconds histogram',
    ];
    for (const [labels, h] of this.histogram) {
      BUCKETS.forEach((le, i) => lines.push(`mnist_http_request_duration_seconds_bucket{${labels},le="${le}"} ${h.buckets[i]}`));
      lines.push(`mnist_http_request_duration_seconds_bucket{${labels},le="+Inf"} ${h.count}`);
      lines.push(`mnist_http_request_duration_seconds_sum{${labels}} ${h.sum}`);
      lines.push(`mnist_http_request_duration_seconds_count{${labels}} ${h.count}`);
    }
    const memory = tf.memory();
    lines.push(
      '# HELP mnist_http_errors_total Requests answered with a 4xx or 5xx status.',
      '# TYPE mnist_http_errors_total counter',
      `mnist_http_errors_total ${this.errors}`,
      '# HELP tfjs_tensors Tensors alive in TensorFlow.js (a number that grows means a leak).',
      '# TYPE tfjs_tensors gauge',
      `tfjs_tensors ${memory.numTensors}`,
      '# HELP tfjs_bytes Bytes held by TensorFlow.js tensors.',
      '# TYPE tfjs_bytes gauge',
      `tfjs_bytes ${memory.numBytes}`,
      '# HELP process_resident_memory_bytes Resident memory of this process.',
      '# TYPE process_resident_memory_bytes gauge',
      `process_resident_memory_bytes ${process.memoryUsage().rss}`,
    );
    return lines.join('\n') + '\n';
  }
}
