/**
 * The memory the server lets its decodes hold at once, across all requests (issue #24: pictures
 * within the pixel limit, sent together, took more than the pod's memory limit). Each
 * decode asks for what its header says it will cost (image/decode.ts, `admit`) and waits, first
 * come first served, until that much is free; one that would wait past `maxWaitMs`, or whose
 * request is given up (its AbortSignal), leaves the queue. A decode larger than the whole budget
 * runs alone.
 *
 * The budget is a share of the memory the server may use: `serve --max-memory`, else the
 * container's limit (cgroup v2 `memory.max`, v1 `memory.limit_in_bytes`), else DEFAULT_MAX_MEMORY.
 */
import { readFileSync } from 'node:fs';
import type { Release } from '../image/decode.js';
import { ApiError } from './errors.js';

/** The memory a server assumes it may use when neither `--max-memory` nor a container limit says (the Deployment's limit). */
export const DEFAULT_MAX_MEMORY = 1024 * 1024 * 1024;

/**
 * The share of that memory decodes may hold at once. The rest is the process itself (runtime,
 * model, sharp), the bodies of the requests in flight (up to
 * `--max-in-flight` x `--body-limit`: 320 MiB by default), the pictures once decoded and shrunk,
 * and what the allocator keeps after a decode is freed.
 */
export const DECODE_SHARE = 1 / 4;

/** Smallest budget: one 4096x4096 8-bit RGB picture decoded whole. */
const MIN_BUDGET = 64 * 1024 * 1024;

/** Longest a decode waits for memory before its request is answered 503 `busy` (ms). */
const DEFAULT_DECODE_WAIT_MS = 10_000;

/** Limits of cgroup v1 at or above this mean "none" (it writes the largest page-aligned int64). */
const NO_LIMIT = 2 ** 60;

/** The memory limit of the container this process runs in, in bytes; undefined when there is none. */
export function containerMemoryLimit(
  files = ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes'],
): number | undefined {
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8').trim();
    } catch {
      continue;
    }
    if (text === 'max') return undefined;
    const bytes = Number(text);
    if (Number.isFinite(bytes) && bytes > 0) return bytes >= NO_LIMIT ? undefined : bytes;
  }
  return undefined;
}

/** Bytes of decodes at once for a process that may use `maxMemory` bytes, shared by `processes` serving processes. */
export function decodeBudgetBytes(maxMemory: number, processes = 1): number {
  return Math.max(MIN_BUDGET, Math.floor((maxMemory * DECODE_SHARE) / Math.max(1, processes)));
}

/** The budget of a server that may use `maxMemory` bytes (default: the container's limit, else DEFAULT_MAX_MEMORY), shared by `processes` processes. */
export function serverDecodeBudget(maxMemory?: number, processes = 1): DecodeBudget {
  return new DecodeBudget(decodeBudgetBytes(maxMemory ?? containerMemoryLimit() ?? DEFAULT_MAX_MEMORY, processes));
}

interface Waiter {
  bytes: number;
  grant: (release: Release) => void;
  cleanup: () => void;
}

export class DecodeBudget {
  private used = 0;
  private readonly queue: Waiter[] = [];

  constructor(
    /** Bytes of decodes at once. */
    readonly capacity: number,
    /** Longest a decode waits for room before it is refused (ms). */
    readonly maxWaitMs = DEFAULT_DECODE_WAIT_MS,
  ) {}

  /** Bytes held by decodes now, and decodes waiting (for /metrics and tests). */
  get state(): { usedBytes: number; waiting: number } {
    return { usedBytes: this.used, waiting: this.queue.length };
  }

  /**
   * Room for `bytes` (at most the whole budget): at once when free and nobody waits (no promise,
   * nothing to await), else a promise, in arrival order. Rejects with 503 `busy` after maxWaitMs,
   * or with the signal's reason once it aborts. The release must be called once.
   */
  acquire(bytes: number, signal?: AbortSignal): Release | Promise<Release> {
    const size = Math.min(Math.max(0, bytes), this.capacity);
    if (this.queue.length === 0 && this.used + size <= this.capacity) return this.take(size);
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    return new Promise<Release>((resolve, reject) => {
      const timer = setTimeout(() => {
        leave();
        reject(
          new ApiError(
            503,
            'busy',
            `the server is decoding other large pictures and this one waited ${this.maxWaitMs / 1000} s for memory: retry later`,
            { 'retry-after': '5' },
          ),
        );
      }, this.maxWaitMs);
      const onAbort = () => {
        leave();
        reject(signal?.reason as Error);
      };
      const cleanup = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const waiter: Waiter = { bytes: size, grant: resolve, cleanup };
      const leave = () => {
        waiter.cleanup();
        const at = this.queue.indexOf(waiter);
        if (at >= 0) this.queue.splice(at, 1);
        // The one that left may have held up smaller ones behind it.
        this.grantWaiting();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(waiter);
    });
  }

  private take(size: number): Release {
    this.used += size;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= size;
      this.grantWaiting();
    };
  }

  /** Grant waiters in order while the first one fits. */
  private grantWaiting(): void {
    while (this.queue.length > 0 && this.used + this.queue[0].bytes <= this.capacity) {
      const waiter = this.queue.shift() as Waiter;
      waiter.cleanup();
      waiter.grant(this.take(waiter.bytes));
    }
  }
}
