// Owns `logs`: the engine's log lines (embedded: its log file; Docker: each container's output), tail and follow.

import type { Command } from 'commander';
import { EXIT } from '../errors.js';
import { numberFlag } from '../flags.js';
import { stackCommand, type Cli, type Stack } from '../stack.js';
import type { Ui } from '../ui.js';

export function register(program: Command, cli: Cli): void {
  stackCommand(
    cli,
    program
      .command('logs [service]')
      .description("show the stack's logs: the embedded engine's log file, or Docker containers' output (clickhouse, collector, grafana)")
      .option('-f, --follow', 'keep printing new lines until Ctrl-C')
      .option('-n, --tail <lines>', 'how many of the last lines to show', '100')
      .option('--json', 'embedded engine: print the raw JSON lines'),
    logs,
  );
}

export async function logs(stack: Stack, options: { follow?: boolean; tail: string; json?: boolean }, service?: string): Promise<number> {
  const { ui } = stack;
  const tail = numberFlag(options.tail, '--tail', { whole: true });
  const engine = await stack.engine();
  const many = engine.name === 'docker' && service === undefined;
  await engine.logs({
    ...(service !== undefined ? { service } : {}),
    follow: options.follow === true,
    tail,
    onLine: (line, from) => {
      const text = options.json || engine.name !== 'embedded' ? line : pretty(line, ui);
      ui.out(many ? `${ui.c.cyan(from.padEnd(10))} | ${text}` : text);
    },
  });
  return EXIT.OK;
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
