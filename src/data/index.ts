/** The data folder's API for the layers above it and the tests: named, so that nothing is exported by accident. */
export { PIXELS, type Dataset, type ImageSet } from './types.js';
export { IDX_FILES, type IdxFileName } from './checksums.js';
export { parseIdx, parseIdxImages, parseIdxLabels, writeIdx } from './idx.js';
export { loadMnist, loadFromDir, packageDataDir, SYSTEM_FASHION_DIR } from './load.js';
export { classCounts, seededSplitIndices, stratifiedQuota, stratifiedSubset, trainValSplit } from './split.js';
export { applySplitPlan, pixelStats, type DataSummary } from './stats.js';
export { readDigitCsv, readLabelledDigitCsv } from './csv.js';
export { loadImageFolder } from './folder.js';
export { gridLayout, pickGridSamples, renderSampleGrid } from './grid.js';
export { defaultCacheDir, downloadDataset } from './download.js';
