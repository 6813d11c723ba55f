import type { Command } from 'commander';

// Placeholder until the serve stage lands.
export function registerServe(_program: Command): void {}
