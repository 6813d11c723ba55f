import { PREPROCESS_SPEC } from '../../src/data/model-input.js';
import { PAPER_CITATION, PAPER_FIGURES } from '../../src/baselines/paper.js';
import { newReport, type BaselineResult, type BaselinesReport } from '../../src/baselines/results.js';

/**
 * A baselines.json as `mnist-cnn baselines` writes it, made up over real test labels: the CNN
 * wrong on image 3 only, both traditional models wrong on images 0, 1, 2 and 4 (and the k-NN on 10 more),
 * so that images 0, 1, 2 and 4 are the CNN's alone and image 3 the traditional models' alone.
 */
export function madeUpReport(labels: Uint8Array): BaselinesReport {
  const predictions = (wrong: (i: number) => boolean) =>
    Array.from(labels, (label, i) => String(wrong(i) ? (label + 1) % 10 : label)).join('');
  const model = (
    fields: Partial<BaselineResult> & Pick<BaselineResult, 'id' | 'name' | 'kind' | 'predictions'>,
  ): BaselineResult => {
    const testErrors = [...fields.predictions!].filter((p, i) => p !== String(labels[i])).length;
    return {
      testErrors,
      testCount: labels.length,
      trainedOn: 55000,
      settings: {},
      trainSeconds: 12.5,
      predictSeconds: 1.5,
      sizeBytes: 31400,
      sizeOf: '7,850 float32 weights',
      ...fields,
    };
  };
  return newReport({
    createdAt: '2026-12-06T05:00:00.000Z',
    machine: { cpu: 'AMD EPYC test', cores: 2, node: 'v20.0.0', loadAverage: { start: [1, 1, 1], end: [2, 2, 2] } },
    versions: { 'mnist-cnn': '0.1.0' },
    citation: PAPER_CITATION,
    data: {
      dataset: 'mnist',
      files: [],
      split: { seed: 1, limit: 0, trainCount: 55000, valCount: 5000, testCount: labels.length },
      preprocessing: PREPROCESS_SPEC,
    },
    totalSeconds: 600,
    models: [
      model({
        id: 'logistic',
        name: 'Logistic regression (softmax, 784-10)',
        kind: 'traditional',
        paper: PAPER_FIGURES.linear,
        predictions: predictions((i) => i < 5 && i !== 3),
      }),
      model({
        id: 'knn',
        name: 'k-NN, L2 on pixels',
        kind: 'traditional',
        paper: PAPER_FIGURES.knn,
        predictions: predictions((i) => i < 15 && i !== 3),
        subset: 'a made-up subset note',
      }),
      model({
        id: 'cnn',
        name: 'Our CNN, `default`',
        kind: 'cnn',
        predictions: predictions((i) => i === 3),
        run: '/tmp/run',
      }),
    ],
  });
}
