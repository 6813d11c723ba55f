/**
 * Reading the fields of a file's header with every read checked against the file's length. A
 * field past the end (a file cut short, or an offset read from the file that points outside it)
 * is a UserError naming the file and the field, never a RangeError from a DataView or an
 * `undefined` byte read as 0. Every header reader of image/ (formats.ts, bmp.ts, png.ts) reads
 * through one, so the check is made in one place rather than before each read.
 */
import { UserError } from '../util/errors.js';

export class HeaderReader {
  private readonly view: DataView;

  /** `name` is the file named in errors, `format` the kind of header ("PNG", "BMP"). */
  constructor(
    readonly bytes: Uint8Array,
    readonly name: string,
    readonly format: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get length(): number {
    return this.bytes.length;
  }

  /** Whether bytes [at, end) are all in the file. */
  has(at: number, size = 1): boolean {
    return Number.isSafeInteger(at) && at >= 0 && at + size <= this.bytes.length;
  }

  /** Throws the user's error unless bytes [at, at + size) are in the file. */
  need(at: number, size: number, field: string): void {
    if (this.has(at, size)) return;
    const where = Number.isSafeInteger(at) && at >= 0 ? `needs ${at + size} bytes` : `is at offset ${at}`;
    throw new UserError(
      `${this.name}: is cut short or damaged: its ${this.format} ${field} ${where}, the file has ${this.bytes.length}`,
      this.name,
    );
  }

  u8(at: number, field: string): number {
    this.need(at, 1, field);
    return this.bytes[at];
  }

  u16be(at: number, field: string): number {
    this.need(at, 2, field);
    return this.view.getUint16(at);
  }

  u16le(at: number, field: string): number {
    this.need(at, 2, field);
    return this.view.getUint16(at, true);
  }

  u24le(at: number, field: string): number {
    this.need(at, 3, field);
    return this.bytes[at] | (this.bytes[at + 1] << 8) | (this.bytes[at + 2] << 16);
  }

  u32be(at: number, field: string): number {
    this.need(at, 4, field);
    return this.view.getUint32(at);
  }

  u32le(at: number, field: string): number {
    this.need(at, 4, field);
    return this.view.getUint32(at, true);
  }

  i32le(at: number, field: string): number {
    this.need(at, 4, field);
    return this.view.getInt32(at, true);
  }

  /** `length` bytes as Latin-1 text (chunk types, signatures). */
  ascii(at: number, length: number, field: string): string {
    this.need(at, length, field);
    return String.fromCharCode(...this.bytes.subarray(at, at + length));
  }

  /** Bytes [at, at + length), a view (no copy). */
  slice(at: number, length: number, field: string): Uint8Array {
    this.need(at, length, field);
    return this.bytes.subarray(at, at + length);
  }
}
