/**
 * A real `mnist-cnn serve` process (the built CLI, bin/mnist-cnn.js: `npm run build` first) on
 * 127.0.0.1 and a port of its own choosing, for the tests and benchmarks that need whole server
 * processes (HAProxy in front of several, a SIGTERM under load).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../bin/mnist-cnn.js', import.meta.url));

/** How a process ended: its exit code, or the signal that killed it. */
interface ProcessEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServeProcess {
  url: string;
  port: number;
  pid: number;
  /** Settles when the process has ended. */
  exited: Promise<ProcessEnd>;
  /** Send a signal now (SIGTERM: the server drains and exits 0). */
  signal(signal: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL if it has not ended within `graceMs`; how it ended. Safe to call twice. */
  stop(graceMs?: number): Promise<ProcessEnd>;
  /** The last lines it printed (stdout and stderr), for failure messages. */
  output(): string;
}

const KEEP_OUTPUT = 16 * 1024;

/**
 * Start `mnist-cnn serve RUN_DIR --port 0` and wait (up to `timeoutMs`) for the URL it prints
 * once the model is loaded, warmed and listening.
 */
export async function startServeProcess(
  runDir: string,
  options: { timeoutMs?: number; args?: string[] } = {},
): Promise<ServeProcess> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const child = spawn(process.execPath, [CLI, 'serve', runDir, '--port', '0', ...(options.args ?? [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-KEEP_OUTPUT);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<ProcessEnd>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

  let timer: NodeJS.Timeout | undefined;
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const look = () => {
        const match = / at (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
        if (match) resolve(match[1]);
      };
      child.stdout.on('data', look);
      child.stderr.on('data', look);
      void exited.then(({ code, signal }) =>
        reject(new Error(`mnist-cnn serve exited (${signal ?? `code ${code}`}) before listening:\n${output.trim()}`)),
      );
      timer = setTimeout(
        () => reject(new Error(`mnist-cnn serve printed no URL within ${timeoutMs} ms:\n${output.trim()}`)),
        timeoutMs,
      );
    });
    const pid = child.pid;
    if (pid === undefined) throw new Error('mnist-cnn serve has no pid');
    return {
      url,
      port: Number(new URL(url).port),
      pid,
      exited,
      signal: (signal) => void child.kill(signal),
      async stop(graceMs = 10_000) {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
          await exited;
          clearTimeout(kill);
        }
        return exited;
      },
      output: () => output,
    };
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
