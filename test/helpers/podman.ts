import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toolAvailable } from './tools.js';

export interface PodmanService {
  /** unix:///…/podman.sock */
  host: string;
  stop(): Promise<void>;
}

/**
 * Podman's Docker-compatible API for the tests: CONTAINER_HOST when set (Podman's own variable for a remote
 * service); else `podman system service` on a private socket, with its storage (vfs), cgroup manager (cgroupfs),
 * default ulimits and network files all under a temp dir, so it shares nothing with another Podman on the machine.
 * Undefined when podman is not installed (a failure under CI=true, see toolAvailable).
 */
export async function podmanService(): Promise<PodmanService | undefined> {
  const given = process.env.CONTAINER_HOST;
  if (given) return { host: given, stop: async () => undefined };
  if (!toolAvailable('podman', 'podman')) return undefined;

  const dir = await mkdtemp(join(tmpdir(), 'amt-podman-'));
  for (const sub of ['root', 'run', 'tmp', 'networks']) await mkdir(join(dir, sub));
  await writeFile(
    join(dir, 'containers.conf'),
    [
      '[containers]',
      // Containers that set no ulimit get these; hosts without CAP_SYS_RESOURCE refuse Podman's higher defaults.
      'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]',
      '[engine]',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      `tmp_dir = "${join(dir, 'tmp')}"`,
      '[network]',
      `network_config_dir = "${join(dir, 'networks')}"`,
      '',
    ].join('\n'),
  );
  await writeFile(join(dir, 'storage.conf'), ['[storage]', 'driver = "vfs"', `runroot = "${join(dir, 'run')}"`, `graphroot = "${join(dir, 'root')}"`, ''].join('\n'));
  const socket = join(dir, 'podman.sock');
  const child = spawn('podman', ['system', 'service', '--time=0', `unix://${socket}`], {
    env: { ...process.env, CONTAINERS_CONF: join(dir, 'containers.conf'), CONTAINERS_STORAGE_CONF: join(dir, 'storage.conf') },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  };
  const deadline = Date.now() + 20_000;
  while (!(await listening(socket))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`podman system service did not start: ${log.trim() || `exit code ${child.exitCode}`}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { host: `unix://${socket}`, stop };
}

function listening(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(socket);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
