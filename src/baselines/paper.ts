/**
 * What LeCun, Bottou, Bengio and Haffner measured: the one place in the project that holds the
 * figures of "Gradient-based learning applied to document recognition", Proceedings of the IEEE
 * 86(11):2278-2324, November 1998, Fig. 9 ("Error rate on the test set (%) for various
 * classification methods") and Section III.C, the comparison of classifiers on MNIST. Every figure
 * is the error on the 10,000 MNIST test images, in percent, of a classifier trained on the 60,000
 * training images as they are, unless the row says otherwise ([deslant]: the images deskewed;
 * [dist]: the training set enlarged with distorted copies). The paper puts the uncertainty of
 * these figures at about 0.1%.
 *
 * Read from the authors' own table of the paper's results (the MNIST database page of LeCun,
 * Cortes and Burges, every row cited "LeCun et al. 1998"), and checked against two independent
 * transcriptions of Fig. 9's labels; the PDF itself was not at hand.
 */

export const PAPER_CITATION =
  'Y. LeCun, L. Bottou, Y. Bengio, P. Haffner, "Gradient-based learning applied to document recognition", Proc. IEEE 86(11):2278-2324, 1998, Fig. 9 and Section III.C';

export interface PaperFigure {
  /** The classifier as Fig. 9 names it. */
  method: string;
  /** Test error, percent. */
  errorPercent: number;
  /** How it differs from the plain training set, when it does. */
  note?: string;
}

/** The rows of Fig. 9 that our baselines stand beside, by the name our results use for them. */
export const PAPER_FIGURES = {
  linear: { method: 'Linear (one layer, 7,850 parameters)', errorPercent: 12.0 },
  linearDeslant: { method: '[deslant] Linear', errorPercent: 8.4, note: 'deskewed images' },
  pairwiseLinear: { method: '[deslant] Pairwise linear', errorPercent: 7.6, note: 'deskewed images' },
  knn: { method: 'K-NN Euclidean', errorPercent: 5.0 },
  knnDeslant: { method: '[deslant] K-NN Euclidean', errorPercent: 2.4, note: 'deskewed images' },
  pcaQuadratic: { method: '40 PCA + quadratic', errorPercent: 3.3 },
  rbf: { method: '1000 RBF + linear', errorPercent: 3.6 },
  mlp300: { method: '28x28-300-10', errorPercent: 4.7 },
  mlp1000: { method: '28x28-1000-10', errorPercent: 4.5 },
  mlp300x100: { method: '28x28-300-100-10', errorPercent: 3.05 },
  mlp500x150: { method: '28x28-500-150-10', errorPercent: 2.95 },
  svmPoly4: { method: 'SVM poly 4', errorPercent: 1.1, note: 'deskewed images, as the MNIST page says' },
  svmReducedSet: { method: 'RS-SVM poly 5', errorPercent: 1.0, note: 'deskewed images' },
  lenet1: { method: '[16x16] LeNet-1', errorPercent: 1.7, note: 'images subsampled to 16x16' },
  lenet4: { method: 'LeNet-4', errorPercent: 1.1 },
  lenet5: { method: 'LeNet-5', errorPercent: 0.95 },
  lenet5Distorted: { method: '[dist] LeNet-5', errorPercent: 0.8, note: 'training set with distortions' },
  boostedLenet4: { method: '[dist] Boosted LeNet-4', errorPercent: 0.7, note: 'training set with distortions' },
} as const satisfies Record<string, PaperFigure>;
