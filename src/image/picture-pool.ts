/**
 * The per-pixel work of large pictures on worker threads, so that it never holds the main thread,
 * where the server answers its other requests and its probes (issue #24: large BMPs sent
 * together held `/healthz`): decoding a BMP with our reader, and the photo pipeline
 * (preprocess.ts), per-pixel work on a picture up to the working size. sharp needs none of this: libvips decodes on threads of its own. Small pictures
 * (decode.ts, INLINE_PIXELS) stay on the calling thread: a hop to a thread costs more than their
 * whole work.
 *
 * The threads start when first needed and do not keep the process alive while idle. A task whose
 * caller gives up (its AbortSignal: a request that timed out, a client that left) is taken off
 * the queue, or, when already running, its thread is ended and replaced by the next task: no work
 * is left behind.
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import type { PreprocessSpec } from '../data/model-input.js';
import { UserError } from '../util/errors.js';
import { startModuleWorker } from '../util/worker.js';
import type { Preprocessed, RawImage } from './preprocess.js';

/** What the main thread sends a picture thread. */
export type PictureTask =
  | { kind: 'bmp'; bytes: Uint8Array; name: string }
  | { kind: 'preprocess'; image: RawImage; spec: PreprocessSpec; name: string };

/** What a picture thread answers: the result, or why not (`user`: a damaged file, a UserError). */
export type PictureReply = {
  image?: RawImage;
  preprocessed?: Preprocessed;
  error?: { message: string; user: boolean };
};

/** A task that took longer than its time limit: decode.ts answers it as ImageError 'timeout'. */
export class PictureTimeoutError extends Error {
  constructor(name: string) {
    super(`${name}: took too long`);
    this.name = 'PictureTimeoutError';
  }
}

interface Pending {
  task: PictureTask;
  /** The buffers sent with it, transferred. */
  transfer: ArrayBuffer[];
  resolve: (reply: PictureReply) => void;
  reject: (err: unknown) => void;
  signal?: AbortSignal;
  timeoutMs: number;
  onAbort?: () => void;
}

/** Threads at once: one per core but one (the main thread's), at least one. */
const POOL_SIZE = Math.max(1, Math.min(4, availableParallelism() - 1));

class PicturePool {
  private readonly idle: Worker[] = [];
  private readonly running = new Map<Worker, { pending: Pending; timer: NodeJS.Timeout }>();
  private readonly queue: Pending[] = [];
  private started = 0;

  constructor(private readonly size: number) {}

  run(
    task: PictureTask,
    transfer: ArrayBuffer[],
    options: { signal?: AbortSignal; timeoutMs: number },
  ): Promise<PictureReply> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    return new Promise<PictureReply>((resolve, reject) => {
      const pending: Pending = { task, transfer, resolve, reject, signal, timeoutMs: options.timeoutMs };
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
      const pending = this.queue.shift() as Pending;
      const timer = setTimeout(
        () => this.abandon(pending, new PictureTimeoutError(pending.task.name)),
        pending.timeoutMs,
      );
      this.running.set(worker, { pending, timer });
      worker.ref();
      worker.postMessage(pending.task, pending.transfer);
    }
  }

  private spawn(): Worker {
    this.started++;
    const worker = startModuleWorker(new URL('./picture-worker.js', import.meta.url), undefined);
    worker.on('message', (reply: PictureReply) => {
      const job = this.release(worker);
      if (!job) return;
      if (reply.error)
        job.pending.reject(
          reply.error.user ? new UserError(reply.error.message, job.pending.task.name) : new Error(reply.error.message),
        );
      else job.pending.resolve(reply);
      this.idle.push(worker);
      worker.unref();
      this.next();
    });
    const gone = (err?: Error) => {
      this.started--;
      const at = this.idle.indexOf(worker);
      if (at >= 0) this.idle.splice(at, 1);
      this.release(worker)?.pending.reject(err ?? new Error('the picture thread exited'));
      this.next();
    };
    worker.once('error', gone);
    worker.once('exit', () => gone());
    return worker;
  }

  /** The task `worker` was running, now no longer running (its timer cleared, its abort listener removed). */
  private release(worker: Worker): { pending: Pending } | undefined {
    const job = this.running.get(worker);
    if (!job) return undefined;
    this.running.delete(worker);
    clearTimeout(job.timer);
    if (job.pending.onAbort) job.pending.signal?.removeEventListener('abort', job.pending.onAbort);
    return job;
  }

  /** Give up on a task: off the queue, or its thread ended (a new one starts for the next task). */
  private abandon(pending: Pending, reason: unknown): void {
    const queued = this.queue.indexOf(pending);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      if (pending.onAbort) pending.signal?.removeEventListener('abort', pending.onAbort);
      pending.reject(reason);
      return;
    }
    for (const [worker, job] of this.running) {
      if (job.pending !== pending) continue;
      this.release(worker);
      pending.reject(reason);
      // Its 'exit' finds no task and makes room for another thread.
      void worker.terminate();
      return;
    }
  }

  get load(): { queued: number; running: number; threads: number } {
    return { queued: this.queue.length, running: this.running.size, threads: this.started };
  }
}

const pool = new PicturePool(POOL_SIZE);

interface ThreadOptions {
  signal?: AbortSignal;
  timeoutMs: number;
}

/**
 * Our BMP reader on a picture thread. Rejects with a UserError naming the file for a damaged
 * one, a PictureTimeoutError after `timeoutMs`, or the signal's reason once it is aborted.
 */
export async function decodeBmpOffThread(bytes: Uint8Array, name: string, options: ThreadOptions): Promise<RawImage> {
  // A copy of its own, transferred: a view into a larger buffer (a request body) would send the
  // whole buffer (and a Buffer's slice() is a view, not a copy).
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return (await pool.run({ kind: 'bmp', bytes: copy, name }, [copy.buffer], options)).image as RawImage;
}

/** The photo pipeline (preprocessImage with `spec`) on a picture thread. */
export async function preprocessOffThread(
  image: RawImage,
  spec: PreprocessSpec,
  name: string,
  options: ThreadOptions,
): Promise<Preprocessed> {
  // A copy, transferred: sharp's buffers live outside V8 and cannot be.
  const data = new Uint8Array(image.data.length);
  data.set(image.data);
  return (await pool.run({ kind: 'preprocess', image: { ...image, data }, spec, name }, [data.buffer], options))
    .preprocessed as Preprocessed;
}

/** How many tasks are queued and running, and threads started (for tests: nothing left behind). */
export function picturePoolLoad(): { queued: number; running: number; threads: number } {
  return pool.load;
}
