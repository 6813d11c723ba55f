import type { Command } from 'commander';

// Placeholder until the predict stage lands.
export function registerPredict(_program: Command): void {}
