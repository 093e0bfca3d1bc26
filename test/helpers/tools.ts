import { spawnSync } from 'node:child_process';

/**
 * Whether a command-line tool the tests use is installed. Under CI=true a missing tool is a failure (.ci/run
 * installs it); elsewhere the tests that need it skip with a loud warning naming the Debian package.
 */
export function toolAvailable(command: string, debianPackage: string): boolean {
  const found = spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
  if (found) return true;
  if (process.env.CI === 'true') throw new Error(`${command} is not installed: .ci/run must apt-get install ${debianPackage}`);
  console.warn(`\n!!! SKIPPING TESTS THAT NEED ${command}: apt-get install ${debianPackage} to run them.\n`);
  return false;
}
