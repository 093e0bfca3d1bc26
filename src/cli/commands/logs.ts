// Owns `logs`: the embedded engine's log file, its last lines, and following it.

import type { Command } from 'commander';
import { open, stat } from 'node:fs/promises';
import { TelemetryError } from '../../errors.js';
import { EXIT } from '../errors.js';
import { stackContext, withStackOptions, type StackOptions } from '../context.js';
import type { Ui } from '../ui.js';

export function registerLogs(program: Command, ui: Ui, run: (action: () => Promise<number>) => Promise<void>): void {
  withStackOptions(
    program
      .command('logs')
      .description("show the embedded engine's log (<home>/run/engine.log)")
      .option('-f, --follow', 'keep printing new lines until Ctrl-C')
      .option('-n, --tail <lines>', 'how many of the last lines to show', '100')
      .option('--json', 'print the raw JSON lines'),
  ).action((options: StackOptions & { follow?: boolean; tail: string }) =>
    run(async () => {
      const tail = Number(options.tail);
      if (!Number.isInteger(tail) || tail < 0) throw new TelemetryError('E_CONFIG', `--tail ${JSON.stringify(options.tail)} is not a whole number`);
      const { config } = await stackContext(options, ui);
      const file = config.paths.logFile;
      let position = 0;
      const size = await stat(file).then((s) => s.size).catch(() => -1);
      if (size < 0) {
        throw new TelemetryError('E_ENGINE_NOT_RUNNING', `no log yet at ${file}`, { hint: 'Start the stack with `automagik-telemetry start`.' });
      }
      const show = (line: string) => ui.out(options.json ? line : pretty(line, ui));
      const first = await readFrom(file, 0);
      first.text.trimEnd().split('\n').filter(Boolean).slice(-tail).forEach(show);
      position = first.end;
      if (!options.follow) return EXIT.OK;
      let partial = '';
      for (;;) {
        await new Promise((r) => setTimeout(r, 250));
        const next = await readFrom(file, position);
        if (next.end < position) position = 0; // truncated or replaced: start over
        else position = next.end;
        const lines = (partial + next.text).split('\n');
        partial = lines.pop() ?? '';
        lines.filter(Boolean).forEach(show);
      }
    }),
  );
}

async function readFrom(file: string, from: number): Promise<{ text: string; end: number }> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    if (size <= from) return { text: '', end: size };
    const buffer = Buffer.alloc(size - from);
    await handle.read(buffer, 0, buffer.length, from);
    return { text: buffer.toString('utf8'), end: size };
  } finally {
    await handle.close();
  }
}

function pretty(line: string, ui: Ui): string {
  try {
    const { time, level, msg, ...rest } = JSON.parse(line) as Record<string, unknown>;
    const color = level === 'error' ? ui.c.red : level === 'warn' ? ui.c.yellow : ui.c.dim;
    const extra = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
    return `${ui.c.dim(String(time ?? ''))} ${color(String(level ?? '').padEnd(5))} ${msg ?? ''}${extra ? ` ${extra}` : ''}`.trimEnd();
  } catch {
    return line;
  }
}
