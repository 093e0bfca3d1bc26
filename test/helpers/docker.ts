import { cp, mkdir, mkdtemp, rm, writeFile, chmod, access } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { clientFor } from '../../src/engine/docker/connect.js';
import { demultiplex } from '../../src/engine/docker/logs.js';
import { podmanService } from './podman.js';

/** A container engine the Docker-engine tests run against: dockerd, or Podman's Docker-compatible service. */
export interface TestEngine {
  /** What status should name: Docker or Podman. */
  runtime: 'Docker' | 'Podman';
  /** unix:///…sock */
  host: string;
  docker: Docker;
  /** DOCKER_HOST for the CLI under test. */
  env: { DOCKER_HOST: string };
  /** False outside CI when the engine is missing (the tests then skip, loudly). */
  available: boolean;
  stop(): Promise<void>;
}

/** The dockerd the tests use: DOCKER_HOST (CI starts its own dockerd), else the default socket. */
export function testDocker(): { docker: Docker; env: { DOCKER_HOST: string } } {
  const env = { DOCKER_HOST: process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock' };
  return { docker: clientFor({ host: env.DOCKER_HOST, tls: undefined }), env };
}

/**
 * Whether Docker tests can run. Under CI=true a missing engine is a failure, not a skip; elsewhere the tests
 * skip with a loud warning.
 */
export async function dockerAvailable(): Promise<boolean> {
  const { docker, env } = testDocker();
  return answers(docker, `Docker engine not reachable at ${env.DOCKER_HOST}`, 'CI must start dockerd (see .ci/run)', 'Install docker.io and start dockerd to run them');
}

export async function dockerdEngine(): Promise<TestEngine> {
  const { docker, env } = testDocker();
  return { runtime: 'Docker', host: env.DOCKER_HOST, docker, env, available: await dockerAvailable(), stop: async () => undefined };
}

/** Podman's Docker-compatible service: CONTAINER_HOST when set, else one started on a private socket for this test file. */
export async function podmanEngine(): Promise<TestEngine> {
  const service = await podmanService().catch((error: unknown) => {
    if (process.env.CI === 'true') throw error;
    console.warn(`\n!!! SKIPPING PODMAN TESTS: ${(error as Error).message}\n`);
    return undefined;
  });
  const host = service?.host ?? 'unix:///nonexistent/podman.sock';
  const docker = clientFor({ host, tls: undefined });
  const available = service !== undefined && (await answers(docker, `Podman not reachable at ${host}`, 'apt-get install podman (see .ci/run)', 'Install podman to run them'));
  return { runtime: 'Podman', host, docker, env: { DOCKER_HOST: host }, available, stop: async () => service?.stop() };
}

async function answers(docker: Docker, problem: string, ciFix: string, localFix: string): Promise<boolean> {
  try {
    await Promise.race([docker.ping(), new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 3000))]);
    return true;
  } catch (error) {
    const message = `${problem}: ${(error as Error).message}`;
    if (process.env.CI === 'true') throw new Error(`${message}. ${ciFix}.`);
    console.warn(`\n!!! SKIPPING ${problem.split(' ')[0]?.toUpperCase()} TESTS: ${message}. ${localFix}.\n`);
    return false;
  }
}

const BUSYBOX = '/bin/busybox';

/** A stand-in service: a static busybox running httpd on given ports, with given files. */
interface StandIn {
  name: string;
  /** Shell lines run by the entrypoint (arguments such as the collector's --config are ignored). */
  script: string;
  files: Record<string, string>;
}

const STANDINS: StandIn[] = [
  {
    name: 'clickhouse',
    script: 'echo "clickhouse stand-in listening on 8123"\nhttpd -f -v -p 8123 -h /www &\nwait',
    files: {
      'www/ping': 'Ok.\n',
      // busybox httpd runs /cgi-bin/index.cgi for "/": it answers SELECT 1 and accepts any other statement, each POSTed
      // one recorded (then a line "-- end") in the data volume, so tests see what `start` ran, in order.
      'www/cgi-bin/index.cgi':
        '#!/bin/sh\nprintf \'Content-Type: text/plain\\r\\n\\r\\n\'\ncase "$QUERY_STRING" in *SELECT%201*) echo 1 ;; esac\n' +
        'if [ -n "$CONTENT_LENGTH" ]; then head -c "$CONTENT_LENGTH" >> /var/lib/clickhouse/statements.log; printf \'\\n-- end\\n\' >> /var/lib/clickhouse/statements.log; fi\n',
    },
  },
  {
    name: 'collector',
    script: 'echo "collector stand-in: args $*"\nhttpd -p 4318 -h /otlp\nhttpd -f -v -p 13133 -h /www &\nwait',
    files: { 'www/index.html': '{"status":"Server available","upSince":"now"}\n', 'otlp/index.html': 'ok\n' },
  },
  {
    name: 'grafana',
    script: 'echo "grafana stand-in listening on 3000"\nhttpd -f -v -p 3000 -h /www &\nwait',
    files: {
      'www/api/health': '{"database":"ok","version":"stand-in"}\n',
      // `grafana cli …` as `start` runs it after creating the container: each call recorded in the data volume.
      'bin/grafana': '#!/bin/sh\necho "$*" >> /var/lib/grafana/cli-calls\necho "Admin password changed successfully"\n',
    },
  },
  {
    name: 'crash',
    script: 'echo "starting up"\necho "fatal: cannot open /var/lib/grafana/grafana.db: permission denied" >&2\nexit 3',
    files: {},
  },
  {
    name: 'mute',
    script: 'echo "listening, but /api/health is not served"\nhttpd -f -v -p 3000 -h /www &\nwait',
    files: { 'www/index.html': 'nothing here\n' },
  },
];

/** The image reference of a stand-in; the tag is a hash of its definition, so a changed stand-in is rebuilt. */
export function standIn(name: string): string {
  const def = STANDINS.find((s) => s.name === name);
  if (!def) throw new Error(`no stand-in ${name}`);
  return `amt-standin/${name}:t${createHash('sha256').update(JSON.stringify(def)).digest('hex').slice(0, 10)}`;
}

export const STANDIN_ENV = {
  AUTOMAGIK_TELEMETRY_CLICKHOUSE_IMAGE: standIn('clickhouse'),
  AUTOMAGIK_TELEMETRY_COLLECTOR_IMAGE: standIn('collector'),
  AUTOMAGIK_TELEMETRY_GRAFANA_IMAGE: standIn('grafana'),
};

/** Builds the stand-in images (FROM scratch + Debian's static busybox), once per engine. */
export async function buildStandIns(docker: Docker): Promise<void> {
  await access(BUSYBOX).catch(() => {
    throw new Error(`${BUSYBOX} is missing: apt-get install -y busybox-static (.ci/run installs it)`);
  });
  for (const def of STANDINS) {
    const tag = standIn(def.name);
    const exists = await docker.getImage(tag).inspect().then(
      () => true,
      () => false,
    );
    if (exists) continue;
    const dir = await mkdtemp(join(tmpdir(), 'amt-standin-'));
    try {
      await cp(BUSYBOX, join(dir, 'busybox'));
      for (const [path, content] of Object.entries(def.files)) {
        await mkdir(join(dir, path, '..'), { recursive: true });
        await writeFile(join(dir, path), content);
        if (path.endsWith('.cgi') || path.startsWith('bin/')) await chmod(join(dir, path), 0o755);
      }
      // PID 1 ignores SIGTERM unless it handles it: the trap lets `docker stop` end a stand-in at once, as real images do.
      await writeFile(join(dir, 'start.sh'), `trap 'exit 0' TERM INT\n${def.script}\n`);
      const hasFiles = Object.keys(def.files).length > 0;
      await writeFile(
        join(dir, 'Dockerfile'),
        [
          'FROM scratch',
          'COPY busybox /bin/busybox',
          'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
          'COPY start.sh /start.sh',
          ...(hasFiles ? ['COPY . /'] : []),
          'ENTRYPOINT ["/bin/sh", "/start.sh"]',
        ].join('\n'),
      );
      const src = ['Dockerfile', 'busybox', 'start.sh', ...new Set(Object.keys(def.files).map((p) => p.split('/')[0] as string))];
      const stream = await docker.buildImage({ context: dir, src }, { t: tag });
      await new Promise<void>((resolve, reject) =>
        docker.modem.followProgress(stream, (error: Error | null, output: Array<{ error?: string }>) => {
          const failed = error?.message ?? output.find((o) => o.error)?.error;
          if (failed) reject(new Error(`building ${tag}: ${failed}`));
          else resolve();
        }),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

/**
 * Runs a command in a throwaway container of `image` on `network` and returns its output. (Not `exec` in a running
 * container: Podman keeps a process per exec session alive for minutes after it ends.)
 */
export async function runOnNetwork(docker: Docker, image: string, network: string, cmd: string[]): Promise<string> {
  const container = await docker.createContainer({ Image: image, Entrypoint: cmd, HostConfig: { NetworkMode: network }, Labels: { 'com.automagik-telemetry.test': 'probe' } });
  try {
    await container.start();
    await container.wait();
    const raw = (await container.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
    return demultiplex(raw).map((f) => f.text).join('');
  } finally {
    await container.remove({ force: true });
  }
}

/** A file's text from a container's filesystem (through the archive endpoint: a tar holding the one file). */
export async function readFileIn(docker: Docker, containerId: string, path: string): Promise<string> {
  const stream = (await docker.getContainer(containerId).getArchive({ path })) as unknown as NodeJS.ReadableStream;
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  const tar = Buffer.concat(chunks);
  const size = parseInt(tar.subarray(124, 136).toString('ascii').replace(/\0.*$/, '').trim(), 8);
  return tar.subarray(512, 512 + size).toString('utf8');
}
