import { access } from 'node:fs/promises';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Whether browser tests can run: under CI=true a missing Chromium fails; elsewhere they skip with a loud warning. */
export async function chromiumAvailable(): Promise<boolean> {
  try {
    await access(CHROMIUM);
    return true;
  } catch {
    const message = `Chromium not found at ${CHROMIUM}`;
    if (process.env.CI === 'true') throw new Error(`${message}: .ci/run must apt-get install chromium`);
    console.warn(`\n!!! SKIPPING BROWSER TESTS: ${message}. apt-get install chromium to run them.\n`);
    return false;
  }
}

/** Debian's Chromium, headless, with the flags this workplace needs (no background network, no sandbox as root). */
export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync', ...extraArgs],
  });
}
