import { spawnSync } from 'node:child_process';
import { mkdtemp, open, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Tmpfs {
  dir: string;
  /** Fills the filesystem to the last byte with a ballast file (what a full disk looks like to the engine). */
  fill(): Promise<void>;
  /** Deletes the ballast: the space is back. */
  free(): Promise<void>;
  unmount(): Promise<void>;
}

/**
 * A small tmpfs of its own (mount needs root). Without root: undefined, with a loud warning, and under CI=true an
 * error (.ci/run runs the tests as root).
 */
export async function mountTmpfs(sizeMb: number): Promise<Tmpfs | undefined> {
  const isRoot = process.getuid?.() === 0;
  const dir = await mkdtemp(join(tmpdir(), 'amt-tmpfs-'));
  const mounted = isRoot && spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m`, 'tmpfs', dir]).status === 0;
  if (!mounted) {
    await rmdir(dir);
    const why = isRoot ? 'mount -t tmpfs failed' : 'not root, so no tmpfs can be mounted';
    if (process.env.CI === 'true') throw new Error(`${why}: the disk-full tests need a tmpfs of their own`);
    console.warn(`\n!!! SKIPPING THE DISK-FULL TESTS: ${why}. Run them as root to fill a small tmpfs.\n`);
    return undefined;
  }
  const ballast = join(dir, 'ballast');
  return {
    dir,
    fill: async () => {
      const handle = await open(ballast, 'a');
      try {
        for (const chunk of [1024 * 1024, 4096, 1]) {
          const block = Buffer.alloc(chunk);
          for (;;) {
            try {
              await handle.write(block);
            } catch (error) {
              if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
              throw error;
            }
          }
        }
      } finally {
        await handle.close().catch(() => undefined);
      }
    },
    free: () => rm(ballast, { force: true }),
    unmount: async () => {
      spawnSync('umount', ['-l', dir]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
