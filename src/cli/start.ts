import type { PresetName } from '../train/config.js';
import type { TrainResult } from '../train/trainer.js';

/** The preset `start` trains with when not given one: the defaults with non-digit pictures (train/config.ts). */
export const START_PRESET: PresetName = 'start';

/**
 * The end of `npm start`: evaluate the best model on the test set (metrics.json, pictures),
 * build report.html, and say where they are.
 */
export async function evaluateAfterTraining(
  result: TrainResult,
  output: { quiet: boolean; json: boolean },
): Promise<void> {
  const { evaluateRun } = await import('../evaluate/evaluate.js');
  const { buildReport } = await import('../evaluate/report.js');
  // Evaluated on as many threads as it trained on.
  const threads = typeof result.metadata.config.threads === 'number' ? result.metadata.config.threads : 1;
  const evaluation = await evaluateRun(result.dir, { model: result.model, threads });
  const report = await buildReport(result.dir, { evaluation });
  const { accuracy, loss, n, temperature, calibrationScores } = evaluation.metrics;
  if (output.json) {
    console.log(
      JSON.stringify({
        run: result.dir,
        report,
        test: { accuracy, loss, n, temperature, calibration: calibrationScores },
      }),
    );
  } else if (!output.quiet) {
    console.log(
      `test accuracy ${(accuracy * 100).toFixed(2)}% (loss ${loss.toFixed(4)}, ${Math.round((1 - accuracy) * n)} errors of ${n})`,
    );
    if (calibrationScores && temperature !== undefined) {
      const ece = (x: number) => `${(x * 100).toFixed(2)}%`;
      console.log(
        `calibration: temperature ${temperature.toFixed(3)} (fitted on the validation split), test ECE ${ece(calibrationScores.before.ece)} → ${ece(calibrationScores.after.ece)}`,
      );
    }
    console.log(`run folder: ${result.dir}`);
    console.log(`report:     ${report}`);
  }
}
