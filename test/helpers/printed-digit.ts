import sharp from 'sharp';

/**
 * A picture of a digit as people upload them: dark type on white paper, 200x200 PNG. The Node
 * reader, the browser reader and the page all read the same bytes.
 */
export async function printedDigitPng(digit: number): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200">
    <rect width="200" height="200" fill="#ffffff"/>
    <text x="100" y="165" font-family="DejaVu Sans" font-size="170" text-anchor="middle" fill="#202020">${digit}</text>
  </svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

/** A small round dot on white paper: not a digit. */
export async function dotPng(): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200">
    <rect width="200" height="200" fill="#ffffff"/>
    <circle cx="100" cy="100" r="14" fill="#202020"/>
  </svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}
