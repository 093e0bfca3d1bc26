// Owns knowing where the embedded engine can run: chDB ships builds for Linux x64/arm64 (glibc) and macOS x64/arm64 only.

import { TelemetryError } from '../../errors.js';

export interface PlatformFacts {
  platform: NodeJS.Platform;
  arch: string;
  /** Linux only: which C library Node runs on (chDB needs glibc); undefined elsewhere. */
  libc: 'glibc' | 'musl' | undefined;
}

const BUILDS = ['linux-x64-glibc', 'linux-arm64-glibc', 'darwin-x64', 'darwin-arm64'];

export function currentPlatform(): PlatformFacts {
  if (process.platform !== 'linux') return { platform: process.platform, arch: process.arch, libc: undefined };
  // Node's diagnostic report names the glibc it runs on; musl builds (Alpine) have none. Its network part is left
  // out (where Node supports that): it is slow, and not needed here.
  const report = process.report as (NodeJS.ProcessReport & { excludeNetwork?: boolean }) | undefined;
  if (!report) return { platform: 'linux', arch: process.arch, libc: undefined };
  const before = report.excludeNetwork;
  report.excludeNetwork = true;
  try {
    const header = (report.getReport() as { header?: { glibcVersionRuntime?: string } }).header;
    return { platform: 'linux', arch: process.arch, libc: header?.glibcVersionRuntime ? 'glibc' : 'musl' };
  } finally {
    report.excludeNetwork = before;
  }
}

/** Why the embedded engine cannot run on this platform, or undefined when chDB has a build for it. */
export function embeddedUnsupported(facts: PlatformFacts): TelemetryError | undefined {
  const key = facts.platform === 'linux' ? `linux-${facts.arch}-${facts.libc ?? 'glibc'}` : `${facts.platform}-${facts.arch}`;
  if (BUILDS.includes(key)) return undefined;
  const where = facts.platform === 'linux' ? `Linux ${facts.arch} with ${facts.libc ?? 'an unknown C library'}` : `${name(facts.platform)} ${facts.arch}`;
  const hint =
    'Use the Docker engine: run Docker (Docker Desktop, Colima, OrbStack, rootless Docker) or Podman, then `automagik-telemetry start --engine docker`.' +
    (facts.platform === 'win32' ? ' Or run automagik-telemetry inside WSL 2 (a glibc Linux), where the embedded engine runs.' : '') +
    (facts.libc === 'musl' ? ' Or use a glibc-based image (Debian, Ubuntu) instead of Alpine.' : '');
  return new TelemetryError('E_ENGINE_UNSUPPORTED', `the embedded engine does not run on ${where}: chDB ships builds for Linux x64/arm64 (glibc) and macOS x64/arm64 only`, {
    hint,
    details: { ...facts },
  });
}

function name(platform: NodeJS.Platform): string {
  return platform === 'win32' ? 'Windows' : platform === 'darwin' ? 'macOS' : platform;
}
