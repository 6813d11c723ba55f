import type { Command } from 'commander';

// Placeholder until the train stage lands.
export function registerTrain(_program: Command): void {}
