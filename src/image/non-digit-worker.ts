/**
 * A worker thread that draws its share of a non-digit set (`nonDigitSet` in non-digits.ts, the
 * share in workerData) and answers with one message: the samples in order, their pixels
 * transferred rather than copied.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { drawNonDigitSamples, type NonDigitWork, type NonDigitWorkReply } from './non-digits.js';

try {
  const samples = await drawNonDigitSamples(workerData as NonDigitWork);
  // Each sample's pixels own their buffer (preprocessing makes a new one per picture); a view into
  // a larger buffer would be copied first, so that transferring it moves only its own bytes.
  for (const s of samples) if (s.pixels.byteLength !== s.pixels.buffer.byteLength) s.pixels = s.pixels.slice();
  parentPort!.postMessage(
    { type: 'done', samples } satisfies NonDigitWorkReply,
    samples.map((s) => s.pixels.buffer as ArrayBuffer),
  );
} catch (err) {
  parentPort!.postMessage({ type: 'error', message: (err as Error).stack ?? String(err) } satisfies NonDigitWorkReply);
}
