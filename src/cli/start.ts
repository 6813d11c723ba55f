import type { TrainResult } from '../train/trainer.js';

/**
 * The end of `npm start`: evaluate the best model on the test set (metrics.json, pictures),
 * build report.html, and say where they are.
 */
export async function evaluateAfterTraining(result: TrainResult, output: { quiet: boolean; json: boolean }): Promise<void> {
  const { evaluateRun } = await import('../evaluate/evaluate.js');
  const { buildReport } = await import('../evaluate/report.js');
  // Evaluated on as many threads as it trained on.
  const threads = typeof result.metadata.config.threads === 'number' ? result.metadata.config.threads : 1;
  const evaluation = await evaluateRun(result.dir, { model: result.model, threads });
  const report = await buildReport(result.dir, { evaluation });
  const { accuracy, loss, n } = evaluation.metrics;
  if (output.json) {
    console.log(JSON.stringify({ run: result.dir, report, test: { accuracy, loss, n } }));
  } else if (!output.quiet) {
    console.log(`test accuracy ${(accuracy * 100).toFixed(2)}% (loss ${loss.toFixed(4)}, ${Math.round((1 - accuracy) * n)} errors of ${n})`);
    console.log(`run folder: ${result.dir}`);
    console.log(`report:     ${report}`);
  }
}
