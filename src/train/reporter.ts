import cliProgress from 'cli-progress';
import type { EpochRecord } from '../model/history.js';

/** What the training loop tells the outside world. */
export interface TrainReporter {
  start(info: {
    dir: string;
    arch: string;
    params: number;
    trainCount: number;
    valCount: number;
    epochs: number;
    resumedAt?: { epoch: number; batch: number };
  }): void;
  batch(info: {
    epoch: number;
    epochs: number;
    batch: number;
    batches: number;
    loss: number;
    imagesPerSecond: number;
  }): void;
  epoch(record: EpochRecord & { best: boolean }): void;
  notice(message: string): void;
  end(): void;
}

export const quietReporter: TrainReporter = { start() {}, batch() {}, epoch() {}, notice() {}, end() {} };

/** One JSON object per epoch on stdout, for programs; notices go to stderr. */
export const jsonReporter: TrainReporter = {
  ...quietReporter,
  epoch(record) {
    console.log(JSON.stringify(record));
  },
  notice(message) {
    console.error(message);
  },
};

const fmt = (x: number | null, digits = 4) => (x === null ? '-' : x.toFixed(digits));

/** A progress bar with ETA and images/s on stderr, and one line per epoch on stdout. */
export function humanReporter(): TrainReporter {
  let bar: cliProgress.SingleBar | undefined;
  const stopBar = () => {
    bar?.stop();
    bar = undefined;
  };
  return {
    start(info) {
      const resumed = info.resumedAt
        ? `, resuming at epoch ${info.resumedAt.epoch + 1} batch ${info.resumedAt.batch + 1}`
        : '';
      console.log(
        `training ${info.arch} (${info.params.toLocaleString('en-US')} parameters) on ${info.trainCount} images, validating on ${info.valCount}, ${info.epochs} epochs${resumed}`,
      );
      console.log(`run folder: ${info.dir}`);
    },
    batch(info) {
      if (!bar) {
        bar = new cliProgress.SingleBar(
          {
            format:
              'epoch {epochLabel} |{bar}| {value}/{total} batches | {ips} img/s | loss {loss} | ETA {eta_formatted}',
            stream: process.stderr,
            hideCursor: true,
            etaBuffer: 50,
            clearOnComplete: true,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(info.batches, info.batch, { epochLabel: `${info.epoch + 1}/${info.epochs}`, ips: '-', loss: '-' });
      }
      bar.update(info.batch + 1, { ips: Math.round(info.imagesPerSecond), loss: info.loss.toFixed(4) });
    },
    epoch(r) {
      stopBar();
      console.log(
        `epoch ${r.epoch}: loss ${fmt(r.loss)} accuracy ${fmt(r.accuracy)} val_loss ${fmt(r.val_loss)} val_accuracy ${fmt(r.val_accuracy)} lr ${r.lr.toExponential(2)} ${r.seconds.toFixed(1)}s${r.best ? ' (best)' : ''}`,
      );
    },
    notice(message) {
      stopBar();
      console.error(message);
    },
    end: stopBar,
  };
}
