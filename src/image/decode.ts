/**
 * Image file bytes → RawImage (Node only: sharp/libvips, and our own BMP reader). Every
 * failure is a UserError naming the file, so one bad file in a folder is one error row.
 */
import type { RawImage } from './preprocess.js';
import { decodeBmp, isBmp } from './bmp.js';
import { UserError } from '../util/errors.js';

/** File name endings read as images when a folder is searched. */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.jpe', '.jfif', '.webp', '.gif', '.tif', '.tiff', '.bmp', '.avif'];

export async function decodeImage(bytes: Uint8Array, name: string): Promise<RawImage> {
  if (bytes.length === 0) throw new UserError(`${name}: is empty (0 bytes), not an image`, name);
  if (isBmp(bytes)) return decodeBmp(bytes, name);
  const { default: sharp } = await import('sharp');
  try {
    // rotate(): phone photos are stored sideways with an EXIF orientation tag.
    // failOn 'error': a truncated file is an error, not a half-grey picture.
    const { data, info } = await sharp(bytes, { failOn: 'error', animated: false })
      .rotate()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    const channels = info.channels as RawImage['channels'];
    if (![1, 2, 3, 4].includes(channels)) throw new Error(`${info.channels} colour channels`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels };
  } catch (err) {
    throw new UserError(`${name}: cannot be read as an image (${describeSharpError(err as Error)})`, name);
  }
}

function describeSharpError(err: Error): string {
  const message = err.message.trim().split('\n')[0];
  if (/unsupported image format/i.test(message)) return 'not a PNG, JPEG, WebP, GIF, TIFF, AVIF or BMP file';
  if (/premature end|read error|truncated|end of file/i.test(message)) return `truncated or corrupt: ${message}`;
  return message;
}
