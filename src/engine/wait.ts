// Owns waiting: small composable checks (HTTP answers, process alive) polled until they pass or a deadline names what was awaited.

import { TelemetryError } from '../errors.js';
import { isTlsFailure, trustedFetch, type Trust } from '../tls/fetch.js';

export interface Probe {
  /** What is awaited, in words, for progress and timeout messages. */
  description: string;
  /** Resolves true when satisfied; false or a throw means not yet. */
  check(): Promise<boolean>;
}

/** `trust`: the CA an https url is verified against. */
export function httpOk(url: string, init: RequestInit = {}, description = `HTTP 200 from ${url}`, trust?: Trust): Probe {
  return {
    description,
    async check() {
      const res = await trustedFetch(url, { ...init, signal: AbortSignal.timeout(2_000) }, trust);
      await res.arrayBuffer();
      return res.ok;
    },
  };
}

export function allOf(...probes: Probe[]): Probe {
  return {
    description: probes.map((p) => p.description).join(' and '),
    async check() {
      for (const probe of probes) if (!(await probe.check().catch(notYet))) return false;
      return true;
    },
  };
}

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Checked before each poll: a reason to give up early (the process died, say), or undefined to go on. */
  abort?: () => Promise<Error | undefined>;
}

export async function waitFor(probe: Probe, options: WaitOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  const interval = options.intervalMs ?? 50;
  for (;;) {
    const reason = await options.abort?.();
    if (reason) throw reason;
    if (await probe.check().catch(notYet)) return;
    if (Date.now() >= deadline) {
      throw new TelemetryError('E_TIMEOUT', `timed out after ${options.timeoutMs} ms waiting for ${probe.description}`, {
        details: { waitedFor: probe.description, timeoutMs: options.timeoutMs },
      });
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** A failed check means "not yet", except a certificate the client does not trust: waiting cannot change that. */
function notYet(error: unknown): false {
  if (isTlsFailure(error)) throw error;
  return false;
}
