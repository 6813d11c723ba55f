import { spawn } from 'node:child_process';

/**
 * A plain static file server that is not ours: Python's `http.server`, on 127.0.0.1 and a port
 * the system picks, serving `dir` as any static host would (files, no rewrites, no headers of
 * ours). `close` stops it.
 */
export async function startStaticServer(dir: string): Promise<{ url: string; close: () => Promise<void> }> {
  const child = spawn('python3', ['-u', '-m', 'http.server', '0', '--bind', '127.0.0.1', '--directory', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`python3 -m http.server did not start: ${seen}`)), 15_000);
    child.stdout.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const port = /port (\d+)/.exec(seen)?.[1];
      if (port) {
        clearTimeout(timer);
        resolve(`http://127.0.0.1:${port}`);
      }
    });
    // Its request log goes to stderr: read it, or a full pipe would stall the server.
    child.stderr.on('data', () => {});
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  return {
    url,
    close: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
