import type { Command } from 'commander';
import type { BackendName } from '../../backend/names.js';
import { configOption } from '../options.js';
import { modelAndInputs, modelOption } from '../model-arg.js';

interface InspectFlags {
  out: string;
  json?: boolean;
  backend: BackendName;
  model?: string;
}

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description(
      "see inside the network: write every layer's output for each image as PNGs (each channel a map), with --json their shapes and statistics",
    )
    .argument(
      '<image...>',
      "image files (PNG, JPEG, WebP, GIF, TIFF, AVIF, BMP), read with the model's preprocessing as `predict` reads them; a run folder first inspects that model (as --model does)",
    )
    .addOption(modelOption())
    .option('--out <dir>', 'folder for the PNGs: one sub-folder per image', 'inspect')
    .option(
      '--json',
      "print each image's answer and every layer's shape and statistics (min, max, mean, std, share of zeros) as JSON",
    )
    .addOption(configOption('backend', 'wasm'))
    .action(async (args: string[], flags: InspectFlags) => {
      const { model, inputs: images } = modelAndInputs(args, flags.model, 'image');
      const { Predictor } = await import('../../predict/predictor.js');
      const { inspectImages } = await import('../../evaluate/inspect.js');
      const predictor = await Predictor.load(model, { backend: flags.backend });
      try {
        const inspections = await inspectImages(predictor, images, flags.out);
        if (flags.json) {
          console.log(JSON.stringify({ run: predictor.dir, out: flags.out, images: inspections }, null, 2));
          return;
        }
        for (const image of inspections) {
          const answer =
            image.digit === null
              ? `not a digit (${image.reason})`
              : `${image.digit} (${(image.confidence * 100).toFixed(1)}%)`;
          console.log(`${image.file}: ${answer}; ${image.layers.length + 1} PNGs in ${image.dir}/`);
        }
      } finally {
        await predictor.close();
      }
    });
}
