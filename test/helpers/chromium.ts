/**
 * Debian's Chromium for the browser tests and bench/browser-train.ts, driven by playwright-core:
 * where it is, the reason a test is skipped without it, how it starts (no sandbox: tests run as
 * root in containers; no GPU; no background requests), and the page errors a test asserts none of.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';

/** `describe`'s skip option: false, or why the browser tests cannot run here. */
export const skipWithoutChromium: false | string = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is absent: install Debian's chromium (apt-get install chromium) to run the browser test`;

export const launchChromium = (): Promise<Browser> =>
  chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });

/** Adds to `problems` every uncaught error of the page and every error it logs to the console. */
export function recordProblems(page: Page, problems: string[]): void {
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
  });
}
