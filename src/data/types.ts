/** Images of 28x28x1 unsigned bytes, row-major, one after another, with their labels. */
export interface ImageSet {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}

/** The datasets `loadMnist` reads (data/load.ts): the one list of them. */
export const DATASETS = ['mnist', 'fashion-mnist', 'idx'] as const;
export type DatasetName = (typeof DATASETS)[number];

export interface FileRecord {
  /** Canonical file name, e.g. `t10k-labels-idx1-ubyte`. */
  name: string;
  /** Where it was read from. */
  path: string;
  /** SHA-256 of the decompressed IDX bytes. */
  sha256: string;
  /** True when it matched the checksum table of the dataset (always false for `idx`). */
  verified: boolean;
}

export interface DataSource {
  kind: 'data-dir' | 'package' | 'download' | 'system';
  location: string;
}

export interface Dataset {
  name: DatasetName;
  classNames: string[];
  train: ImageSet;
  test: ImageSet;
  source: DataSource;
  files: FileRecord[];
}

export const IMAGE_SIZE = 28;
export const PIXELS = IMAGE_SIZE * IMAGE_SIZE;
export const NUM_CLASSES = 10;
