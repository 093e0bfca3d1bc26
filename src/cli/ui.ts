// Owns everything the CLI prints: plain or colored text, JSON for scripts, spinners on a TTY and plain lines elsewhere.

import { Chalk, type ChalkInstance } from 'chalk';
import { createInterface } from 'node:readline/promises';
import { TelemetryError } from '../errors.js';

export interface Io {
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

export interface Progress {
  update(text: string): void;
  succeed(text: string): void;
  fail(text: string): void;
}

export interface Ui {
  readonly io: Io;
  /** Colors for stdout (off when stdout is not a TTY or NO_COLOR is set). */
  readonly c: ChalkInstance;
  /** Colors for stderr. */
  readonly ce: ChalkInstance;
  out(text: string): void;
  err(text: string): void;
  json(value: unknown): void;
  progress(text: string): Progress;
  /** Asks on stderr and reads one line from stdin. */
  ask(question: string): Promise<string>;
}

function colorLevel(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): 0 | 1 {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return 0;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return 1;
  return stream.isTTY ? 1 : 0;
}

export function createUi(io: Io): Ui {
  const c = new Chalk({ level: colorLevel(io.stdout, io.env) });
  const ce = new Chalk({ level: colorLevel(io.stderr, io.env) });
  return {
    io,
    c,
    ce,
    out: (text) => io.stdout.write(`${text}\n`),
    err: (text) => io.stderr.write(`${text}\n`),
    json: (value) => io.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
    async ask(question) {
      const rl = createInterface({ input: io.stdin ?? process.stdin, output: io.stderr });
      try {
        return await rl.question(question);
      } finally {
        rl.close();
      }
    },
    progress(text) {
      if (io.stderr.isTTY && !io.env.CI) return spinner(io.stderr, text);
      // Not a terminal: one plain line per step, so logs and CI output stay readable.
      io.stderr.write(`… ${text}\n`);
      return {
        update: (t) => io.stderr.write(`… ${t}\n`),
        succeed: (t) => io.stderr.write(`✔ ${t}\n`),
        fail: (t) => io.stderr.write(`✖ ${t}\n`),
      };
    },
  };
}

/** A spinner on a terminal. ora is imported on first use (it costs start-up time every other command would pay). */
function spinner(stream: NodeJS.WritableStream, text: string): Progress {
  let current = text;
  let done: ['succeed' | 'fail', string] | undefined;
  let live: { text: string; succeed(t: string): unknown; fail(t: string): unknown } | undefined;
  void import('ora').then(({ default: ora }) => {
    if (done) return;
    live = ora({ text: current, stream, color: 'cyan' }).start();
  });
  const finish = (how: 'succeed' | 'fail', t: string) => {
    done = [how, t];
    if (live) live[how](t);
    else stream.write(`${how === 'succeed' ? '✔' : '✖'} ${t}\n`);
  };
  return {
    update: (t) => {
      current = t;
      if (live) live.text = t;
    },
    succeed: (t) => finish('succeed', t),
    fail: (t) => finish('fail', t),
  };
}

/**
 * Asks before something destructive. True when the user typed "yes". Without a terminal to ask on it refuses with
 * E_REFUSED, pointing at --yes: a script must say what it wants.
 */
export async function confirm(ui: Ui, what: string, question: string): Promise<boolean> {
  if (!ui.io.stdin?.isTTY) {
    throw new TelemetryError('E_REFUSED', `${what} and needs a confirmation, but there is no terminal to ask on`, { hint: 'Run it again with --yes to confirm.' });
  }
  const answer = await ui.ask(`${question} Type "yes" to confirm: `);
  return answer.trim().toLowerCase() === 'yes';
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

export function formatDuration(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return [d ? `${d}d` : '', h ? `${h}h` : '', m ? `${m}m` : '', `${s}s`].filter(Boolean).join(' ');
}

/** Aligned two-column "key  value" lines. */
export function keyValues(rows: Array<[string, string]>): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join('\n');
}
