import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';
import { ERROR_RESPONSES, mediaAnswer } from '../schemas.js';

/** The project root, from this module's place in src/serve/routes or dist/serve/routes. */
const PROJECT_ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const DEFAULT_PAGE_DIR = join(PROJECT_ROOT, 'dist', 'page');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  // The Train panel's wasm backend (compiled as it streams in only when served as application/wasm).
  '.wasm': 'application/wasm',
};

/** The built page's files, read once at start-up. */
function readPage(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  if (!existsSync(dir)) return files;
  for (const name of readdirSync(dir)) files.set(name, readFileSync(join(dir, name)));
  return files;
}

/** GET / and /page/:file: the draw-a-digit page, built by scripts/build-page.mjs into dist/page. */
export const pageRoutes: FastifyPluginAsync<{ pageDir?: string }> = async (app, options) => {
  const page = readPage(options.pageDir ?? DEFAULT_PAGE_DIR);
  const sendPageFile = (name: string, reply: FastifyReply) => {
    const file = page.get(name);
    if (!file)
      throw new ApiError(
        404,
        'not_found',
        page.size === 0 ? 'the page is not built: run `npm run build`' : `no page file ${name}`,
      );
    return reply.type(CONTENT_TYPES[extname(name)] ?? 'application/octet-stream').send(file);
  };
  const html = { 200: mediaAnswer('text/html', 'the page', { type: 'string' }), ...ERROR_RESPONSES };
  app.get('/', { schema: { summary: 'The draw-a-digit page', response: html } }, async (_request, reply) =>
    sendPageFile('index.html', reply),
  );
  const file = {
    summary: "The page's scripts, styles and pictures",
    params: { type: 'object', properties: { file: { type: 'string' } } },
    response: {
      200: mediaAnswer(
        'application/octet-stream',
        'a file of the page (its own media type: JavaScript, CSS, SVG, PNG, wasm)',
      ),
      ...ERROR_RESPONSES,
    },
  };
  app.get('/page/:file', { schema: file }, async (request: FastifyRequest<{ Params: { file: string } }>, reply) =>
    sendPageFile(request.params.file, reply),
  );
};
