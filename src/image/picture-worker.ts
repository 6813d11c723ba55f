/**
 * A thread of picture-pool.ts: the per-pixel work of a large picture, sent from the main thread.
 * `bmp`: our BMP reader on the file's bytes; `preprocess`: the photo pipeline (preprocess.ts) on
 * decoded pixels with the run's spec. Results go back with their buffers transferred, not
 * copied (a picture's pixels). A user's error (a damaged file) comes back as its message, to be thrown again as a
 * UserError naming the file.
 */
import { parentPort } from 'node:worker_threads';
import { UserError } from '../util/errors.js';
import { decodeBmp } from './bmp.js';
import type { PictureReply, PictureTask } from './picture-pool.js';
import { preprocessImage } from './preprocess.js';

const port = parentPort;
if (!port) throw new Error('picture-worker.ts runs as a worker thread (picture-pool.ts starts it)');

port.on('message', (task: PictureTask) => {
  let reply: PictureReply;
  try {
    if (task.kind === 'bmp') {
      const image = decodeBmp(task.bytes, task.name);
      reply = { image };
      port.postMessage(reply, [image.data.buffer as ArrayBuffer]);
    } else {
      const preprocessed = preprocessImage(task.image, { spec: task.spec });
      // 784 values: copied (its arrays may share a buffer, which cannot be transferred twice).
      reply = { preprocessed };
      port.postMessage(reply);
    }
    return;
  } catch (err) {
    reply = { error: { message: (err as Error).message, user: err instanceof UserError } };
  }
  port.postMessage(reply);
});
