import type { Command } from 'commander';

// Placeholder until the evaluate stage lands.
export function registerEvaluate(_program: Command): void {}
