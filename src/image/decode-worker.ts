/**
 * A decode thread of decode-pool.ts: our BMP reader on bytes sent from the main thread, the
 * pixels sent back (their buffer transferred, not copied). A user's error (a damaged file) comes
 * back as its message, to be thrown again as a UserError naming the file.
 */
import { parentPort } from 'node:worker_threads';
import { UserError } from '../util/errors.js';
import { decodeBmp } from './bmp.js';
import type { DecodeReply, DecodeTask } from './decode-pool.js';

const port = parentPort;
if (!port) throw new Error('decode-worker.ts runs as a worker thread (decode-pool.ts starts it)');

port.on('message', ({ bytes, name }: DecodeTask) => {
  let reply: DecodeReply;
  try {
    const image = decodeBmp(bytes, name);
    reply = { image };
    port.postMessage(reply, [image.data.buffer as ArrayBuffer]);
    return;
  } catch (err) {
    reply = { error: { message: (err as Error).message, user: err instanceof UserError } };
  }
  port.postMessage(reply);
});
