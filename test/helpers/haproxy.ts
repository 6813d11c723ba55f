/**
 * HAProxy (the `haproxy` binary, Debian's package: .ci/run installs it) in front of servers on
 * 127.0.0.1, run from the example that users get, deploy/haproxy/haproxy.cfg: the same
 * health checks, retries and timeouts, with only its `bind` ports and `server` lines replaced.
 * The copy goes to a temporary folder; HAProxy runs in the foreground (-db) on free ports, and its
 * statistics page (CSV) tells each server's state and counts.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The example configuration that users get. */
export const HAPROXY_EXAMPLE = fileURLToPath(new URL('../../deploy/haproxy/haproxy.cfg', import.meta.url));

/** Where `haproxy` is: PATH, then the sbin folders that a non-root PATH may lack; undefined if nowhere. */
export function findHaproxy(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'].filter(Boolean);
  for (const dir of dirs) {
    const candidate = join(dir, 'haproxy');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Why the HAProxy tests cannot run here, or undefined when they can. A missing haproxy skips
 * them on a developer's machine, but never in CI (`CI` set): there they run and fail, since
 * .ci/run installs it.
 */
export function haproxySkipReason(): string | undefined {
  if (findHaproxy() || process.env.CI) return undefined;
  return 'haproxy is not installed (apt-get install haproxy; .ci/run installs it, and with CI set a missing haproxy fails)';
}

export interface HaproxyServer {
  /** The server's name in HAProxy (its `server NAME ...` line and the statistics' svname). */
  name: string;
  port: number;
}

export type ServerState = 'UP' | 'DOWN';

/** One server's line of HAProxy's statistics. */
interface ServerStats {
  name: string;
  /** UP, DOWN, or a transition such as "UP 1/2" (going down) or "DOWN 1/2" (going up). */
  status: string;
  /** The last health check: L7OK, L7STS (a status other than the expected one), L4CON (refused)... */
  checkStatus: string;
  /** Requests sent to it (HAProxy's stot: one per request in HTTP mode). */
  requests: number;
  /** Its 2xx answers. */
  answered2xx: number;
  /** Retries (wretr) and redispatches (wredis) of requests that had been sent to it. */
  retries: number;
  redispatches: number;
}

export interface RunningHaproxy {
  /** The frontend: send requests here. */
  url: string;
  /** The backend's servers, as its statistics tell them now. */
  servers(): Promise<ServerStats[]>;
  /** Wait until each named server is in the given state (no transition); the statistics then. */
  waitForStates(expected: Record<string, ServerState>, timeoutMs?: number): Promise<ServerStats[]>;
  /** The last lines HAProxy logged (one per request, with its retries and termination state). */
  log(): string;
  /** Stop HAProxy and remove its folder. Safe to call twice. */
  stop(): Promise<void>;
}

/** A port free on 127.0.0.1 now (the OS's choice); HAProxy binds it a moment later. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * The example configuration with the frontend on `port`, the statistics on `statsPort`, and one
 * `server NAME 127.0.0.1:PORT` line per server in place of the example's (the example's
 * `default-server` line gives them their checks). Throws if the example no longer has the shape
 * this relies on: one frontend with one bind, one `listen stats` with one bind, one backend with
 * server lines.
 */
function configFor(
  example: string,
  ports: { port: number; statsPort: number },
  servers: readonly HaproxyServer[],
): string {
  let section = '';
  const seen = { frontendBind: 0, statsBind: 0, serverLines: 0 };
  const lines: string[] = [];
  for (const line of example.split('\n')) {
    // A section starts at a line that is not indented: "global", "frontend NAME", "listen stats"...
    if (/^[^\s#]/.test(line)) section = line.trim().split(/\s+/).slice(0, 2).join(' ');
    const keyword = line.trim().split(/\s+/)[0];
    const indent = /^\s*/.exec(line)?.[0] ?? '    ';
    if (section.startsWith('frontend ') && keyword === 'bind') {
      seen.frontendBind++;
      lines.push(`${indent}bind 127.0.0.1:${ports.port}`);
    } else if (section === 'listen stats' && keyword === 'bind') {
      seen.statsBind++;
      lines.push(`${indent}bind 127.0.0.1:${ports.statsPort}`);
    } else if (section.startsWith('backend ') && keyword === 'server') {
      if (seen.serverLines++ === 0)
        for (const server of servers) lines.push(`${indent}server ${server.name} 127.0.0.1:${server.port}`);
    } else {
      lines.push(line);
    }
  }
  if (seen.frontendBind !== 1 || seen.statsBind !== 1 || seen.serverLines === 0) {
    throw new Error(
      `${HAPROXY_EXAMPLE} has changed shape (want one frontend bind, one 'listen stats' bind, server lines in the backend; found ${JSON.stringify(seen)})`,
    );
  }
  return lines.join('\n');
}

/** Parse HAProxy's CSV statistics into the servers of the backend named `backend`. */
function parseStats(csv: string, backend: string): ServerStats[] {
  const [header, ...rows] = csv.trim().split('\n');
  const columns = header.replace(/^# /, '').split(',');
  const at = (row: string[], name: string) => row[columns.indexOf(name)] ?? '';
  return rows
    .map((line) => line.split(','))
    .filter((row) => at(row, 'pxname') === backend && !['FRONTEND', 'BACKEND'].includes(at(row, 'svname')))
    .map((row) => ({
      name: at(row, 'svname'),
      status: at(row, 'status'),
      // A leading "* " means a check is running at this moment.
      checkStatus: at(row, 'check_status').replace(/^\* /, ''),
      requests: Number(at(row, 'stot')),
      answered2xx: Number(at(row, 'hrsp_2xx')),
      retries: Number(at(row, 'wretr')),
      redispatches: Number(at(row, 'wredis')),
    }));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const KEEP_LOG = 1024 * 1024;

/**
 * Start HAProxy in front of `servers` (the example configuration, rewritten by configFor) and
 * wait until each server is in its `expect`ed state (default: every server UP). Throws, with
 * HAProxy's output, if it does not get there within `timeoutMs`.
 */
export async function startHaproxy(
  servers: readonly HaproxyServer[],
  options: { expect?: Record<string, ServerState>; timeoutMs?: number } = {},
): Promise<RunningHaproxy> {
  const binary = findHaproxy();
  if (!binary)
    throw new Error(
      'haproxy is not installed: apt-get install haproxy (.ci/run installs it); CI is set, so this fails rather than skips',
    );
  const timeoutMs = options.timeoutMs ?? 30_000;
  const expect = options.expect ?? Object.fromEntries(servers.map((server) => [server.name, 'UP' as const]));
  const example = readFileSync(HAPROXY_EXAMPLE, 'utf8');
  const backend = /^backend\s+(\S+)/m.exec(example)?.[1];
  if (!backend) throw new Error(`${HAPROXY_EXAMPLE} has no backend`);
  const dir = await mkdtemp(join(tmpdir(), 'mnist-cnn-haproxy-'));
  const file = join(dir, 'haproxy.cfg');

  // A free port can be taken between our look and HAProxy's bind: then try other ports.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const ports = { port: await freePort(), statsPort: await freePort() };
    const config = configFor(example, ports, servers);
    await writeFile(file, config);
    let output = '';
    const child = spawn(binary, ['-f', file, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-KEEP_LOG);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let ended = false;
    let spawnError: Error | undefined;
    // 'exit' does not come when the binary could not be started at all: 'error' ends it then.
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', (error) => {
        spawnError = error;
        resolve();
      });
    }).then(() => {
      ended = true;
    });

    const url = `http://127.0.0.1:${ports.port}`;
    const statsUrl = `http://127.0.0.1:${ports.statsPort}/stats`;
    const readServers = async () => {
      const response = await fetch(`${statsUrl};csv`, { signal: AbortSignal.timeout(5_000) });
      if (!response.ok) throw new Error(`HAProxy's statistics answered ${response.status}`);
      return parseStats(await response.text(), backend);
    };
    const waitForStates = async (wanted: Record<string, ServerState>, waitMs = timeoutMs) => {
      const deadline = Date.now() + waitMs;
      let last: ServerStats[] | string;
      for (;;) {
        if (ended) throw new Error(`haproxy exited${spawnError ? ` (${spawnError.message})` : ''}:\n${output.trim()}`);
        try {
          const now = await readServers();
          last = now;
          if (
            Object.entries(wanted).every(
              ([name, state]) => now.find((server) => server.name === name)?.status === state,
            )
          )
            return now;
        } catch (error) {
          last = String(error);
        }
        if (Date.now() > deadline) {
          throw new Error(
            `HAProxy's servers are not ${JSON.stringify(wanted)} after ${waitMs} ms: ${JSON.stringify(last)}\nHAProxy's output:\n${output.trim().slice(-4000)}`,
          );
        }
        await sleep(100);
      }
    };
    let stopped = false;
    const stop = async () => {
      if (!stopped) {
        stopped = true;
        if (!ended) {
          child.kill('SIGTERM');
          const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
          await exited;
          clearTimeout(kill);
        }
      }
      await rm(dir, { recursive: true, force: true });
    };

    try {
      await waitForStates(expect);
      return { url, servers: readServers, waitForStates, log: () => output, stop };
    } catch (error) {
      lastError = error;
      if (!ended) child.kill('SIGKILL');
      await exited;
      // Only a port taken meanwhile is worth another try.
      if (!/cannot bind socket|Address already in use/i.test(output)) break;
    }
  }
  await rm(dir, { recursive: true, force: true });
  throw lastError;
}
