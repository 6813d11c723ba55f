/**
 * The browserTrain part's figures (bench/browser-train.ts) and the table docs/browser-training.md
 * shows of them: its `browser-training` generated block, made by scripts/docs-blocks.ts from
 * bench/results/browser-train.json (`npm run docs`; test/docs/generated.test.ts fails when the
 * page and the file disagree). Apart from the part itself, which drives Chromium, so that the
 * docs need none of it.
 */

/** Pointer events' input delays, and the time from lifting the pen to the answer, over some seconds of drawing. */
interface DrawingFigures {
  inputDelayP50Ms: number;
  inputDelayP99Ms: number;
  inputDelayMaxMs: number;
  events: number;
  readP50Ms: number;
  readP99Ms: number;
  reads: number;
}

/**
 * Each measure's `load` is the machine's load average (1, 5, 15 minutes) as it ended: the
 * machine is shared, and a figure is worth what its load lets it be.
 */
export interface BrowserTrainFigures {
  machine: { cpu: string; cores: number; chromium: string };
  load: { before: number[]; after: number[] };
  throughput: Record<
    string,
    {
      tab: number[];
      node: number[];
      ratios: number[];
      medianRatio: number;
      tabMedian: number;
      nodeMedian: number;
      load: number[];
    }
  >;
  /** The tab's time to 99.0%, and Node's (bench/time-to-99.ts, from process start) right after it. */
  timeTo99: {
    seconds: number | null;
    checks: { epoch: number; accuracy: number; seconds: number }[];
    threads: number;
    startSeconds: number;
    imagesPerSecond: number;
    load: number[];
    nodeSeconds?: number | null;
    nodeLoad?: number[];
  };
  /** Drawing in the page with nothing training, then while it trains. */
  responsive: {
    idle: DrawingFigures;
    training: DrawingFigures;
    load: number[];
    stepsWhileDrawing: number;
    imagesPerSecondWhileDrawing: number;
  };
}

/** The figures as docs/browser-training.md shows them, the machine and its load first. */
export function browserTrainTable(figures: { date: string; browserTrain: BrowserTrainFigures }): string {
  const { machine, load, throughput: rates, timeTo99: to99, responsive } = figures.browserTrain;
  const n = (x: number) => x.toLocaleString('en-US');
  const checks = to99.checks.map((c) => `${(c.accuracy * 100).toFixed(2)}% at ${c.seconds} s`).join(', ');
  const loadOf = (l: number[] | undefined) => (l ? String(l[0]) : '–');
  const lines = [
    `Measured ${figures.date.slice(0, 10)} on ${machine.cpu} (${machine.cores} cores), Chromium ${machine.chromium}; load average ${load.before.join(', ')} before, ${load.after.join(', ')} after (the machine is shared: each row gives the 1-minute load average as its measure ended).`,
    '',
    '| measure | target | measured | load |',
    '|---|---|---|---|',
    `| test accuracy ≥ 99.0%, \`--preset fast\`, from pressing Train (fresh tab: data download and workers' start included, ${to99.startSeconds} s) | ≤ 60 s | ${to99.seconds === null ? 'not reached' : `${to99.seconds} s`} (${to99.threads} workers; checks: ${checks}) | ${loadOf(to99.load)} |`,
    `| the same in Node, \`npm run bench -- --only timeTo99\` right after (from process start) | – | ${to99.nodeSeconds == null ? 'not reached' : `${to99.nodeSeconds} s`} | ${loadOf(to99.nodeLoad)} |`,
    ...Object.entries(rates).map(
      ([arch, r]) =>
        `| training images/s in the tab vs Node, ${arch} net (median of ${r.ratios.length} interleaved rounds) | ${arch === 'compact' ? '≥ 0.8x' : '–'} | ${r.medianRatio}x (tab ${n(r.tabMedian)}, Node ${n(r.nodeMedian)} images/s; rounds ${r.ratios.map((x) => `${x}x`).join(', ')}) | ${loadOf(r.load)} |`,
    ),
    ...(['training', 'idle'] as const).map((when) => {
      const d = responsive[when];
      return `| input delay of pointer events while drawing, p99, ${when === 'training' ? 'the tab training' : 'nothing training (the load alone)'} (${n(d.events)} events) | ${when === 'training' ? '≤ 50 ms' : '–'} | ${d.inputDelayP99Ms} ms (p50 ${d.inputDelayP50Ms} ms, max ${d.inputDelayMaxMs} ms) | ${loadOf(responsive.load)} |`;
    }),
    ...(['training', 'idle'] as const).map((when) => {
      const d = responsive[when];
      return `| pen lifted → the server's answer shown, ${when === 'training' ? 'the tab training' : 'nothing training'} (${d.reads} digits) | – | p50 ${d.readP50Ms} ms, p99 ${d.readP99Ms} ms | ${loadOf(responsive.load)} |`;
    }),
    `| training images/s while drawing | – | ${n(responsive.imagesPerSecondWhileDrawing)} | ${loadOf(responsive.load)} |`,
  ];
  return lines.join('\n');
}
