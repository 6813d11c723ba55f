import sharp from 'sharp';

/** A rendered picture: the SVG, and the PNG made from it. */
export interface Picture {
  svg: string;
  png: Buffer;
  width: number;
  height: number;
}

/** PNGs are rendered at twice the SVG's size, for sharp text on high-density screens. */
export const PNG_SCALE = 2;

/** The font of every picture: Debian's fonts-dejavu-core (librsvg needs a system font). */
export const FONT = 'DejaVu Sans, Liberation Sans, Arial, sans-serif';

/** SVG → PNG by sharp/librsvg, at PNG_SCALE. */
export async function svgToPng(svg: string): Promise<{ png: Buffer; width: number; height: number }> {
  const png = await sharp(Buffer.from(svg), { density: 72 * PNG_SCALE })
    .png()
    .toBuffer();
  const { width = 0, height = 0 } = await sharp(png).metadata();
  return { png, width, height };
}
