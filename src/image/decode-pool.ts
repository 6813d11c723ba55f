/**
 * Our BMP reader on worker threads, so that a large picture never holds the main thread, where
 * the server answers its other requests and its probes (a 4096x4096 BMP is tens of milliseconds
 * of decoding; 64 of them at once held `/healthz` for half a minute, issue #24). sharp needs none
 * of this: libvips decodes on threads of its own. The small pictures our readers take at once
 * (decode.ts, INLINE_PIXELS) stay on the calling thread: a hop to a thread costs more than
 * their whole decode.
 *
 * The threads start when first needed and do not keep the process alive while idle. A decode
 * whose caller gives up (its AbortSignal: a request that timed out, a client that left) is taken
 * off the queue, or, when already running, its thread is ended and replaced by the next task:
 * no work is left behind.
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { UserError } from '../util/errors.js';
import { startModuleWorker } from '../util/worker.js';
import type { RawImage } from './preprocess.js';

/** What the main thread sends a decode thread. */
export interface DecodeTask {
  bytes: Uint8Array;
  name: string;
}

/** What a decode thread answers: the pixels, or why not (`user`: a damaged file, a UserError). */
export type DecodeReply = { image: RawImage; error?: undefined } | { image?: undefined; error: { message: string; user: boolean } };

/** A decode that took longer than its time limit: decode.ts answers it as ImageError 'timeout'. */
export class DecodeTimeoutError extends Error {
  constructor(name: string) {
    super(`${name}: took too long to decode`);
    this.name = 'DecodeTimeoutError';
  }
}

interface Pending extends DecodeTask {
  resolve: (image: RawImage) => void;
  reject: (err: unknown) => void;
  signal?: AbortSignal;
  timeoutMs: number;
  onAbort?: () => void;
}

/** Threads that decode at once: one per core but one (the main thread's), at least one. */
const POOL_SIZE = Math.max(1, Math.min(4, availableParallelism() - 1));

class DecodePool {
  private readonly idle: Worker[] = [];
  private readonly running = new Map<Worker, { task: Pending; timer: NodeJS.Timeout }>();
  private readonly queue: Pending[] = [];
  private started = 0;

  constructor(private readonly size: number) {}

  decode(task: DecodeTask, options: { signal?: AbortSignal; timeoutMs: number }): Promise<RawImage> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<RawImage>((resolve, reject) => {
      const pending: Pending = { ...task, resolve, reject, signal, timeoutMs: options.timeoutMs };
      if (signal) {
        pending.onAbort = () => this.abandon(pending, signal.reason);
        signal.addEventListener('abort', pending.onAbort, { once: true });
      }
      this.queue.push(pending);
      this.next();
    });
  }

  /** Start queued tasks on idle threads, starting threads up to the pool's size. */
  private next(): void {
    while (this.queue.length > 0) {
      const worker = this.idle.pop() ?? (this.started < this.size ? this.spawn() : undefined);
      if (!worker) return;
      const task = this.queue.shift() as Pending;
      const timer = setTimeout(() => this.abandon(task, new DecodeTimeoutError(task.name)), task.timeoutMs);
      this.running.set(worker, { task, timer });
      worker.ref();
      // A copy of its own, transferred: a view into a larger buffer (a request body) would send the whole buffer.
      const bytes = task.bytes.slice();
      worker.postMessage({ bytes, name: task.name } satisfies DecodeTask, [bytes.buffer]);
    }
  }

  private spawn(): Worker {
    this.started++;
    const worker = startModuleWorker(new URL('./decode-worker.js', import.meta.url), undefined);
    worker.on('message', (reply: DecodeReply) => {
      const job = this.release(worker);
      if (!job) return;
      if (reply.image) job.task.resolve(reply.image);
      else job.task.reject(reply.error.user ? new UserError(reply.error.message, job.task.name) : new Error(reply.error.message));
      this.idle.push(worker);
      worker.unref();
      this.next();
    });
    const gone = (err?: Error) => {
      this.started--;
      const at = this.idle.indexOf(worker);
      if (at >= 0) this.idle.splice(at, 1);
      this.release(worker)?.task.reject(err ?? new Error('the decode thread exited'));
      this.next();
    };
    worker.once('error', gone);
    worker.once('exit', () => gone());
    return worker;
  }

  /** The task `worker` was running, now no longer running (its timer cleared, its abort listener removed). */
  private release(worker: Worker): { task: Pending } | undefined {
    const job = this.running.get(worker);
    if (!job) return undefined;
    this.running.delete(worker);
    clearTimeout(job.timer);
    if (job.task.onAbort) job.task.signal?.removeEventListener('abort', job.task.onAbort);
    return job;
  }

  /** Give up on `task`: off the queue, or its thread ended (a new one starts for the next task). */
  private abandon(task: Pending, reason: unknown): void {
    const queued = this.queue.indexOf(task);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      if (task.onAbort) task.signal?.removeEventListener('abort', task.onAbort);
      task.reject(reason);
      return;
    }
    for (const [worker, job] of this.running) {
      if (job.task !== task) continue;
      this.release(worker);
      task.reject(reason);
      // Its 'exit' finds no task and makes room for another thread.
      void worker.terminate();
      return;
    }
  }

  /** Tasks queued and running (tests). */
  get load(): { queued: number; running: number; threads: number } {
    return { queued: this.queue.length, running: this.running.size, threads: this.started };
  }
}

const pool = new DecodePool(POOL_SIZE);

/**
 * Our BMP reader on a decode thread. Rejects with a UserError naming the file for a damaged
 * one, a DecodeTimeoutError after `timeoutMs`, or the signal's reason once it is aborted.
 */
export function decodeBmpOffThread(bytes: Uint8Array, name: string, options: { signal?: AbortSignal; timeoutMs: number }): Promise<RawImage> {
  return pool.decode({ bytes, name }, options);
}

/** How many decodes are queued and running, and threads started (for tests: nothing left behind). */
export function decodePoolLoad(): { queued: number; running: number; threads: number } {
  return pool.load;
}
