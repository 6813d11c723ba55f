/**
 * A zip file of stored (uncompressed) entries in plain TypeScript: how the page hands over the
 * corrections it keeps in the browser (folders of small PNG files, which deflate would hardly
 * shrink). The format of PKWARE's APPNOTE: a local header and the data for each entry, then the
 * central directory and its end record. No zip64: fewer than 65,535 entries and 4 GiB.
 */
import { crc32 } from './digests.js';

export interface ZipEntry {
  /** The path inside the archive, `/` between folders. */
  name: string;
  bytes: Uint8Array;
}

/** MS-DOS date and time of 1980-01-01 00:00, the earliest a zip records: entries carry no date of their own. */
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
/** General purpose flag bit 11: names are UTF-8. */
const UTF8 = 0x0800;

/** The bytes of a zip file holding `entries`, in order, uncompressed. */
export function zipStored(entries: readonly ZipEntry[]): Uint8Array {
  if (entries.length >= 0xffff)
    throw new RangeError(`${entries.length} entries: a zip without zip64 holds at most 65,534`);
  const encoder = new TextEncoder();
  const names = entries.map((entry) => encoder.encode(entry.name));
  const crcs = entries.map((entry) => crc32(entry.bytes));
  const localSize = entries.reduce((sum, entry, i) => sum + 30 + names[i].length + entry.bytes.length, 0);
  const centralSize = names.reduce((sum, name) => sum + 46 + name.length, 0);
  if (localSize + centralSize + 22 > 0xffffffff) throw new RangeError('over 4 GiB: a zip without zip64 cannot hold it');
  const out = new Uint8Array(localSize + centralSize + 22);
  const view = new DataView(out.buffer);
  const offsets: number[] = [];
  let at = 0;
  entries.forEach((entry, i) => {
    offsets.push(at);
    view.setUint32(at, 0x04034b50, true);
    view.setUint16(at + 4, 10, true); // version needed: 1.0
    view.setUint16(at + 6, UTF8, true);
    view.setUint16(at + 8, 0, true); // stored
    view.setUint16(at + 10, DOS_TIME, true);
    view.setUint16(at + 12, DOS_DATE, true);
    view.setUint32(at + 14, crcs[i], true);
    view.setUint32(at + 18, entry.bytes.length, true);
    view.setUint32(at + 22, entry.bytes.length, true);
    view.setUint16(at + 26, names[i].length, true);
    view.setUint16(at + 28, 0, true);
    out.set(names[i], at + 30);
    out.set(entry.bytes, at + 30 + names[i].length);
    at += 30 + names[i].length + entry.bytes.length;
  });
  const centralStart = at;
  entries.forEach((entry, i) => {
    view.setUint32(at, 0x02014b50, true);
    view.setUint16(at + 4, 0x031e, true); // made by: Unix, spec 3.0
    view.setUint16(at + 6, 10, true);
    view.setUint16(at + 8, UTF8, true);
    view.setUint16(at + 10, 0, true);
    view.setUint16(at + 12, DOS_TIME, true);
    view.setUint16(at + 14, DOS_DATE, true);
    view.setUint32(at + 16, crcs[i], true);
    view.setUint32(at + 20, entry.bytes.length, true);
    view.setUint32(at + 24, entry.bytes.length, true);
    view.setUint16(at + 28, names[i].length, true);
    // Extra field, comment, disk number, internal attributes: none. External: a regular file, rw-r--r--.
    view.setUint32(at + 38, (0o100644 << 16) >>> 0, true);
    view.setUint32(at + 42, offsets[i], true);
    out.set(names[i], at + 46);
    at += 46 + names[i].length;
  });
  view.setUint32(at, 0x06054b50, true);
  view.setUint16(at + 8, entries.length, true);
  view.setUint16(at + 10, entries.length, true);
  view.setUint32(at + 12, at - centralStart, true);
  view.setUint32(at + 16, centralStart, true);
  return out;
}
