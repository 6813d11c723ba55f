/**
 * The pictures of the evaluate stage, written into a run's plots/ folder: every chart
 * (charts.ts) and gallery (galleries.ts) as .svg and .png; the report adds the pictures of
 * inside the network (inside.ts).
 */
import { join } from 'node:path';
import type { ImageSet } from '../data/types.js';
import type { EpochRecord } from '../model/history.js';
import type { CalibrationBin, ClassScores, ConfusedPair, WorstError } from '../metrics/classification.js';
import { writeFileAtomic } from '../util/fs.js';
import {
  confusionMatrixSpec,
  learningCurvesSpec,
  perClassSpec,
  reliabilitySpec,
  renderSpec,
  type BeforeTemperature,
} from './charts.js';
import { confusedPairsGallery, worstErrorsGallery } from './galleries.js';
import type { Picture } from './picture.js';

export interface PlotFile {
  /** File stem: `plots/NAME.svg` and `plots/NAME.png`. */
  name: string;
  title: string;
  svgPath: string;
  pngPath: string;
}

export const PLOT_NAMES = {
  learningCurves: 'learning-curves',
  confusionMatrix: 'confusion-matrix',
  perClass: 'per-class',
  reliability: 'reliability',
  worstErrors: 'worst-errors',
  confusedPairs: 'confused-pairs',
  // Inside the network (inside.ts): written by the report, which loads the model.
  filters: 'filters',
  featureMaps: 'feature-maps',
  embedding: 'embedding',
  saliency: 'saliency',
} as const;

export interface PlotInputs {
  classNames: string[];
  confusionMatrix: number[][];
  perClass: ClassScores[];
  calibration: CalibrationBin[];
  ece: number;
  /** Before the calibration temperature (metrics.json's `calibrationBefore`, `calibrationScores`, `temperature`), when known. */
  calibrationBefore?: CalibrationBin[];
  calibrationScores?: { before: { ece: number } };
  temperature?: number;
  worstErrors: WorstError[];
  confusedPairs: ConfusedPair[];
}

/** The reliability diagram's "before" line: only when a temperature other than 1 changed the probabilities. */
function beforeTemperature(metrics: PlotInputs): BeforeTemperature | undefined {
  const { calibrationBefore, calibrationScores, temperature } = metrics;
  if (!calibrationBefore || !calibrationScores || temperature === undefined || temperature === 1) return undefined;
  return { bins: calibrationBefore, ece: calibrationScores.before.ece, temperature };
}

/** Write a picture as plots/NAME.svg and plots/NAME.png. */
export async function savePicture(dir: string, name: string, title: string, picture: Picture): Promise<PlotFile> {
  const svgPath = join(dir, `${name}.svg`);
  const pngPath = join(dir, `${name}.png`);
  await writeFileAtomic(svgPath, picture.svg);
  await writeFileAtomic(pngPath, picture.png);
  return { name, title, svgPath, pngPath };
}

/**
 * Render every picture into `plotsDir`: the learning curves (when the run has a history), the
 * confusion matrix, the per-class scores, the reliability diagram and the two error galleries.
 */
export async function writePlots(
  plotsDir: string,
  metrics: PlotInputs,
  set: ImageSet,
  history?: EpochRecord[],
): Promise<PlotFile[]> {
  const files: PlotFile[] = [];
  if (history && history.length > 0) {
    files.push(
      await savePicture(
        plotsDir,
        PLOT_NAMES.learningCurves,
        'Learning curves',
        await renderSpec(learningCurvesSpec(history)),
      ),
    );
  }
  files.push(
    await savePicture(
      plotsDir,
      PLOT_NAMES.confusionMatrix,
      'Confusion matrix',
      await renderSpec(confusionMatrixSpec(metrics.confusionMatrix, metrics.classNames)),
    ),
  );
  files.push(
    await savePicture(
      plotsDir,
      PLOT_NAMES.perClass,
      'Per-class scores',
      await renderSpec(perClassSpec(metrics.perClass, metrics.classNames)),
    ),
  );
  files.push(
    await savePicture(
      plotsDir,
      PLOT_NAMES.reliability,
      'Calibration',
      await renderSpec(reliabilitySpec(metrics.calibration, metrics.ece, beforeTemperature(metrics))),
    ),
  );
  if (metrics.worstErrors.length > 0) {
    files.push(
      await savePicture(
        plotsDir,
        PLOT_NAMES.worstErrors,
        'Worst errors',
        await worstErrorsGallery(set, metrics.worstErrors, metrics.classNames),
      ),
    );
  }
  if (metrics.confusedPairs.length > 0) {
    files.push(
      await savePicture(
        plotsDir,
        PLOT_NAMES.confusedPairs,
        'Most-confused pairs',
        await confusedPairsGallery(set, metrics.confusedPairs, metrics.classNames),
      ),
    );
  }
  return files;
}
