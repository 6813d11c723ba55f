import { createHash } from 'node:crypto';

/** The hex SHA-256 of some bytes: how every data file and download is checked (in a browser: crypto.subtle). */
export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
