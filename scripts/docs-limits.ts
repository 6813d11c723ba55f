/**
 * docs/limits.md's measured figures of issue 24 (the `abuse-issue24-*` blocks of
 * scripts/docs-blocks.ts): `npm run bench -- --only abuse --json` runs kept in
 * bench/results/abuse-issue24-after.json (main just before the changes, this branch plain and with
 * the Dockerfile's environment, the other sets, the slow set again) and abuse-issue24-before.json
 * (main before the changes). The limits themselves are settings of the code and stay as text.
 */
import { readFileSync } from 'node:fs';

type Statuses = Record<string, number>;
interface Probes {
  p50Ms: number;
  p99Ms: number;
  statuses: Statuses;
}
interface Case {
  requests: number;
  statuses: Statuses;
  seconds: number;
  rssBeforeMB: number;
  peakRssMB: number;
  cpuSecondsInTheSecondAfter1s: number;
  healthz: Probes;
  bodyBytes?: number;
}
interface InLimit {
  /** The environment the server ran with, as `NAME=value`. */
  serverEnv: string;
  bytes: Record<'png16' | 'jpegProgressive' | 'bmp1', number>;
  idleServer: { machineLoad: number; p50Ms: number; p99Ms: number };
  png16: Case;
  jpegProgressive: Case;
  bmp1: Case;
  batches: Case & { bodyBytes: number };
  clientsGone: Case;
  sequence: { rows: { name: string; rssBeforeMB: number; peakRssMB: number }[]; rssAfterMB: number };
  idle: { held: number; probes: Probes };
}
interface Fuzzed {
  cases: number;
  seconds: number;
  byStatus: Statuses;
  fiveHundreds: number;
  problems: string[];
  serverAlive: boolean;
  stderrLines: number;
  stackLines: number;
  tensorsStart?: number;
  tensorsEnd?: number;
}
interface Slow {
  trickled: {
    connections: number;
    statuses: number[];
    closedAfterSeconds: { min: number; max: number };
    normalRequestMs: number;
  };
  inFlight: { sent: number; ok: number; busy503: number; retryAfter: string; readyzMeanwhile: number };
  connections: { opened: number; refused503: number; nextStatus: number };
}
interface Abuse {
  webp30?: { routes: Record<string, string>; predictCli: { exitCode: number; otherRead: boolean } };
  inLimit?: InLimit;
  headerFuzz?: Fuzzed;
  fuzz?: Fuzzed;
  bombs?: {
    rows: unknown[];
    allRefusedAsExpected: boolean;
    maxMedianMs: number;
    maxServerMedianMs: number;
    maxPeakRssGrowthMB: number;
    threeAtOnce: { statuses: number[]; ms: number; peakRssGrowthMB: number };
    atLimit4096: { medianMs: number; peakRssGrowthMB: number };
  };
  slow?: Slow;
  soak?: {
    requests: number;
    seconds: number;
    requestsPerSecond: number;
    byStatus: Statuses;
    start: { rssMB: number; tensors: number };
    end: { rssMB: number; tensors: number };
    peakRssMB: number;
    stderrLines: number;
  };
  loadAverage: { start: number; end: number };
}
interface Run {
  figures: { date: string; machine: { cpu: string; cores: number; node: string }; abuse: Abuse };
}
interface After {
  runs: Record<'mainInterleaved' | 'harden' | 'hardenDockerfileEnv' | 'allSets' | 'slow', Run>;
}

const after = () => JSON.parse(readFileSync('bench/results/abuse-issue24-after.json', 'utf8')) as After;
const n = (x: number) => x.toLocaleString('en-US');
const round1 = (x: number) => Number(x.toFixed(1));
/** `count × answer`, the most frequent first. */
const answers = (statuses: Statuses) =>
  Object.entries(statuses)
    .sort((a, b) => b[1] - a[1])
    .map(([answer, count]) => `${count} × ${answer}`)
    .join(', ');
/** `count answer` in the order the bench counted them (`n 200, n 400`). */
const byStatus = (statuses: Statuses) =>
  Object.entries(statuses)
    .map(([answer, count]) => `${n(count)} ${answer}`)
    .join(', ');
const size = (bytes: number) =>
  bytes < 1e6 ? `${Math.round(bytes / 1000)} KB` : `${Number((bytes / 1e6).toPrecision(2))} MB`;
const range = (xs: number[], format = (x: number) => String(Math.round(x))) =>
  `${format(Math.min(...xs))}-${format(Math.max(...xs))}`;
const inLimitOf = (run: Run): InLimit => {
  const l = run.figures.abuse.inLimit;
  if (!l) throw new Error('bench/results/abuse-issue24-after.json: a run of the table has no inLimit set');
  return l;
};

/** The three servers of the table: main just before the changes, this branch, this branch with the Dockerfile's env. */
const SERVERS = [
  ['mainInterleaved', 'main'],
  ['harden', 'this branch'],
  ['hardenDockerfileEnv', 'this branch, Dockerfile env'],
] as const;

/** How docs/limits.md's issue-24 figures were measured: machine, date and load of the runs. */
export function abuseIssue24Measured(): string {
  const { runs } = after();
  const before = JSON.parse(readFileSync('bench/results/abuse-issue24-before.json', 'utf8')) as {
    abuse: { loadAverage: { note?: string } };
  };
  const tableLoads = SERVERS.flatMap(([key]) => [
    runs[key].figures.abuse.loadAverage.start,
    runs[key].figures.abuse.loadAverage.end,
  ]);
  const sets = runs.allSets.figures.abuse.loadAverage;
  // The run before the changes did not record its load average; its note says what uptime read.
  const beforeLoad = /(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)/.exec(before.abuse.loadAverage.note ?? '');
  const m = runs.harden.figures.machine;
  return `Measured with \`npm run bench -- --only abuse\` (\`bench/abuse.ts\`) on ${runs.harden.figures.date.slice(0, 10)}: ${m.cpu} (Zen 4), ${m.cores} cores under KVM, Node ${m.node.replace(/^v/, '')}, one \`mnist-cnn serve\` process on 127.0.0.1, a fresh one for each case, on a machine shared with other work: load average ${range(tableLoads)} over the three runs of the table (main's just before this branch's), ${range([sets.start, sets.end])} over the run of the sets below it. The JSON is \`bench/results/abuse-issue24-after.json\` (and \`abuse-issue24-before.json\`, main before the changes${beforeLoad ? `, at load ${range([Number(beforeLoad[1]), Number(beforeLoad[2])])}` : ''}).`;
}

/** What the table shows, then the table of pictures within the limits sent at once, on main and on this branch. */
export function abuseIssue24Table(): string {
  const { runs } = after();
  const bytes = inLimitOf(runs.harden).bytes;
  const batchBytes = inLimitOf(runs.harden).batches.bodyBytes;
  const cases = [
    ['png16', `× 4096x4096 16-bit interlaced PNG (${size(bytes.png16)})`],
    ['jpegProgressive', `× 4000x4000 progressive JPEG (${size(bytes.jpegProgressive)})`],
    ['bmp1', `× 4096x4096 1-bit BMP (${size(bytes.bmp1)})`],
    ['batches', `multipart batches of 38 such PNGs (${size(batchBytes)})`],
    ['clientsGone', 'such PNGs, clients gone after 0.5 s'],
  ] as const;
  const starts = SERVERS.flatMap(([run]) => cases.map(([key]) => inLimitOf(runs[run])[key].rssBeforeMB));
  const lines = [
    `Pictures within the limits, sent at once. Answers; seconds to the last answer; the server's peak RSS (VmHWM, reset before; it starts at ${range(starts)} MB); \`/healthz\` latency meanwhile, probed every 50 ms on a fresh connection from a thread of its own (p50 / p99, ms); CPU seconds the server spent in the second that starts 1 s after the last answer. "Dockerfile env": \`${inLimitOf(runs.hardenDockerfileEnv).serverEnv}\`.`,
    '',
    '| case | server | answers | s | peak RSS MB | /healthz p50 / p99 ms | CPU s after |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const [key, label] of cases)
    SERVERS.forEach(([run, server], i) => {
      const c = inLimitOf(runs[run])[key];
      const name = i === 0 ? `${c.requests} ${label}` : '';
      lines.push(
        `| ${name} | ${server} | ${answers(c.statuses)} | ${c.seconds} | ${Math.round(c.peakRssMB)} | ${Math.round(c.healthz.p50Ms)} / ${Math.round(c.healthz.p99Ms)} | ${c.cpuSecondsInTheSecondAfter1s} |`,
      );
    });
  return lines.join('\n');
}

/** The figures after the table: idle probes, the cases in a row, idle connections, and the other sets. */
export function abuseIssue24Sets(): string {
  const { runs } = after();
  const idle = SERVERS.map(([run, server]) => ({ server, ...inLimitOf(runs[run]).idleServer }));
  const idleNames = ["main's run", 'this branch', 'Dockerfile env'];
  const lines = [
    `- An idle server's \`/healthz\` over 10 s, what the machine's own load costs a probe: p99 ${idle.map((s, i) => `${s.p99Ms} ms (${idleNames[i]}, load ${round1(s.machineLoad)})`).join(', ')}; p50 ${range(
      idle.map((s) => s.p50Ms),
      (x) => x.toFixed(1),
    )} ms.`,
  ];
  for (const [run, server] of SERVERS) {
    const seq = inLimitOf(runs[run]).sequence;
    lines.push(
      `- The three cases one after another on one server (${server}): RSS before each ${seq.rows.map((r) => Math.round(r.rssBeforeMB)).join(', ')} MB, peaks ${seq.rows.map((r) => Math.round(r.peakRssMB)).join(', ')} MB, ${Math.round(seq.rssAfterMB)} MB after.`,
    );
  }
  for (const [run, server] of SERVERS.slice(0, 2)) {
    const held = inLimitOf(runs[run]).idle;
    lines.push(
      `- ${held.held} connections held idle (each reopened as the server closes it) for 15 s (${server}): probes answered ${Object.entries(
        held.probes.statuses,
      )
        .map(([answer, count]) => `${answer} × ${count}`)
        .join(', ')}; p99 ${held.probes.p99Ms} ms.`,
    );
  }
  const webpBefore = runs.mainInterleaved.figures.abuse.webp30;
  const webpAfter = runs.harden.figures.abuse.webp30;
  if (webpBefore && webpAfter) {
    const [status, code] = webpAfter.routes.raw.split(' ');
    lines.push(
      `- The 30-byte WebP of issue #24: main answered ${webpBefore.routes.raw} on every route (raw body, data URL, multipart, both batches, \`/v2\` BYTES) and \`mnist-cnn predict RUN w.webp other.png\` exited ${webpBefore.predictCli.exitCode} ${webpBefore.predictCli.otherRead ? 'after reading' : 'without reading'} other.png; now ${status} \`${code}\` on every route, and predict exits ${webpAfter.predictCli.exitCode} (a file could not be read) with other.png ${webpAfter.predictCli.otherRead ? 'read' : 'not read'}.`,
    );
  }
  const sets = runs.allSets.figures.abuse;
  const stderr = (lines: number) => (lines === 0 ? 'nothing on stderr' : `${lines} lines on stderr`);
  if (sets.headerFuzz) {
    const h = sets.headerFuzz;
    lines.push(
      `- Header fuzz: ${n(h.cases)} real headers of every format the API reads (PNG of each depth and interlacing, JPEG baseline and progressive, WebP lossy, lossless and extended, GIF, BMP of each depth), cut and mutated (seed 2424), to \`POST /v1/predict\` in ${h.seconds} s: ${h.fiveHundreds} 5xx, ${h.stackLines} stack lines, ${h.stderrLines} lines on stderr, the server ${h.serverAlive ? 'up' : 'down'}; answers ${byStatus(h.byStatus)}.`,
    );
  }
  if (sets.fuzz) {
    const f = sets.fuzz;
    lines.push(
      `- Fuzz of every route: ${n(f.cases)} random requests (seed 1515) in ${f.seconds} s: ${f.fiveHundreds} 5xx, ${f.problems.length === 0 ? 'no problem' : `${f.problems.length} problems`}, ${stderr(f.stderrLines)}, tensors ${f.tensorsStart} before and ${f.tensorsEnd} after; answers ${byStatus(f.byStatus)}.`,
    );
  }
  if (sets.bombs) {
    const b = sets.bombs;
    lines.push(
      `- Bombs over the limits (issue #15's set, each sent five times): ${b.allRefusedAsExpected ? 'all refused as expected' : 'NOT all refused as expected'} from their first bytes and header, median ${b.maxMedianMs} ms at most as the client saw it, ${b.maxServerMedianMs} ms as the server spent it, peak RSS growth ${b.maxPeakRssGrowthMB} MB at most; three 16000x16000 PNGs at once ${b.threeAtOnce.ms} ms, ${b.threeAtOnce.peakRssGrowthMB} MB; a 4096x4096 PNG at the limit is read in ${b.atLimit4096.medianMs} ms, ${b.atLimit4096.peakRssGrowthMB} MB of peak RSS growth.`,
    );
  }
  const slow = runs.slow.figures.abuse.slow;
  if (slow) {
    const { trickled: t, inFlight: f, connections: c } = slow;
    lines.push(
      `- Slow clients: ${t.connections} POST bodies trickled a byte a second were answered ${t.statuses.join('/')} and closed at ${t.closedAfterSeconds.min}-${t.closedAfterSeconds.max} s, a normal request meanwhile ${t.normalRequestMs} ms; ${f.sent} requests in flight at once: ${f.ok} answered, ${f.busy503} refused 503 with \`Retry-After: ${f.retryAfter}\`, \`/readyz\` ${f.readyzMeanwhile} meanwhile; ${c.opened} idle connections: ${c.refused503} refused 503 (256 allowed; past the cap a connection gets a second to send a probe's request line), a \`/healthz\` meanwhile ${c.nextStatus}.`,
    );
  }
  if (sets.soak) {
    const k = sets.soak;
    lines.push(
      `- Soak: ${n(k.requests)} requests over 8 keep-alive connections in ${k.seconds} s (${k.requestsPerSecond}/s; half of them valid PNGs, JPEGs and JSON, the rest bad bodies, bombs and forms over their limits, answered ${byStatus(k.byStatus)}): RSS ${k.start.rssMB} MB after the warm-up, ${k.end.rssMB} MB at the end (peak ${k.peakRssMB}), tensors ${k.start.tensors} and ${k.end.tensors}, ${stderr(k.stderrLines)}.`,
    );
  }
  return lines.join('\n');
}

/** What the figures say: the reading of the table, its figures taken from the same runs. */
export function abuseIssue24Reading(): string {
  const { runs } = after();
  const plain = inLimitOf(runs.harden);
  const main = inLimitOf(runs.mainInterleaved);
  const large = ['png16', 'jpegProgressive', 'bmp1'] as const;
  const branchP99 = [plain, inLimitOf(runs.hardenDockerfileEnv)].flatMap((l) => large.map((k) => l[k].healthz.p99Ms));
  const mainP99 = (['jpegProgressive', 'bmp1'] as const).map((k) => main[k].healthz.p99Ms);
  const seconds = (xs: number[]) => range(xs, (ms) => String(Math.round(ms / 100) / 10));
  const third = plain.sequence.rows[plain.sequence.rows.length - 1];
  return [
    "What the figures say. Memory stays under 600 MB in every case with the Dockerfile's setting, and",
    "stays there when the cases follow one another (without it, glibc keeps what libvips' threads freed:",
    `${Math.round(plain.jpegProgressive.peakRssMB)} MB for the JPEGs, ${Math.round(third.peakRssMB)} MB by the third case in a row). The probes are never refused (main`,
    'answered `/healthz` and `/readyz` 503 for as long as the connections were held). The batches are',
    'refused from their headers and leave no work behind. Most probes are answered in milliseconds',
    'during the bursts, but the target of a `/healthz` p99 under 100 ms is not met: the slowest',
    `hundredth waits ${seconds(branchP99)} s while ${plain.png16.requests} large bodies arrive at once, because the main thread copies`,
    "each body as it completes (Fastify's body parser) and collects the garbage, on a machine whose",
    'other work leaves the server a fraction of its two cores (decoding and the photo pipeline are off',
    `the main thread; main's p99 was ${range(mainP99.map((ms) => ms / 1000))} s for the JPEGs and BMPs). The pictures over what the`,
    'decoding memory and the time limits allow are answered 503 `busy` after 10 s of waiting rather',
    'than all at 35 s (main) or with the pod killed. A decode already running in libvips when its',
    `client leaves is not stopped: ${plain.clientsGone.cpuSecondsInTheSecondAfter1s} CPU-seconds in the second after, as on main; the ones waiting`,
    'are dropped.',
  ].join('\n');
}
