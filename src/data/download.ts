// Placeholder: the data helper implements resume, retry, checksum and atomic rename.
import type { DatasetName } from './types.js';
export async function downloadDataset(_options: { dataset: DatasetName; mirror: string; cacheDir?: string }): Promise<string> {
  throw new Error('download not implemented yet');
}
