// Owns the command table: each command's name, one-line summary and the module that implements it, imported only when it runs.

import type { Command } from 'commander';
import type { Cli } from './stack.js';

/** A command module registers its command(s), with every option, on the program. */
export interface CommandModule {
  register(program: Command, cli: Cli): void;
}

export interface CommandEntry {
  /** The name, and its arguments as `--help` shows them. */
  usage: string;
  summary: string;
  load(): Promise<CommandModule>;
}

/** In the order `--help` lists them. Adding a command: one entry here and one module under commands/. */
export const COMMANDS: readonly CommandEntry[] = [
  { usage: 'start', summary: 'start the telemetry stack and wait until it is healthy', load: () => import('./commands/lifecycle.js') },
  { usage: 'stop', summary: 'stop the stack gracefully; data is kept', load: () => import('./commands/lifecycle.js') },
  { usage: 'restart [service]', summary: 'restart the stack, or one Docker service', load: () => import('./commands/lifecycle.js') },
  { usage: 'status', summary: 'whether the stack runs: engine, ports, uptime, rows, disk (exit 3 when stopped)', load: () => import('./commands/lifecycle.js') },
  { usage: 'health', summary: 'check every endpoint; exit 1 when one fails, 3 when nothing runs', load: () => import('./commands/lifecycle.js') },
  { usage: 'clean', summary: 'stop and remove what start created; data, log and history are kept', load: () => import('./commands/lifecycle.js') },
  { usage: 'reset', summary: 'clean, and DELETE ALL TELEMETRY DATA; asks first', load: () => import('./commands/lifecycle.js') },
  { usage: 'env', summary: 'print the variables that point an app at the stack', load: () => import('./commands/env.js') },
  { usage: 'logs [service]', summary: "show the stack's logs, tail and follow", load: () => import('./commands/logs.js') },
  { usage: 'send', summary: 'send one event (--event) or JSON lines (--stdin), and wait until they are stored', load: () => import('./commands/send.js') },
  { usage: 'test', summary: 'send a sample set through each backend, read it back, then remove it', load: () => import('./commands/test.js') },
  { usage: 'query [sql]', summary: 'run SQL against the stack (argument, -f file, stdin, or a prompt)', load: () => import('./commands/query.js') },
  { usage: 'query-traces', summary: 'show recent events, or follow new ones', load: () => import('./commands/traces.js') },
  { usage: 'query-stats', summary: 'event counts, error rate and latency percentiles', load: () => import('./commands/traces.js') },
  { usage: 'query-logs', summary: 'show recent log records by severity, trace or text, or follow new ones', load: () => import('./commands/query-signals.js') },
  { usage: 'query-metrics', summary: 'metric points per hour, day or attribute: sum, mean, min, max, last', load: () => import('./commands/query-signals.js') },
  { usage: 'backup', summary: 'write every event to a portable, checksummed backup file', load: () => import('./commands/backup.js') },
  { usage: 'restore <file>', summary: 'load a backup into the stack', load: () => import('./commands/backup.js') },
  { usage: 'schema', summary: 'print or apply the schema, single-node or for a cluster', load: () => import('./commands/schema.js') },
  { usage: 'dashboard', summary: "print (or open) the running stack's dashboard URL", load: () => import('./commands/dashboard.js') },
];

export function commandName(entry: CommandEntry): string {
  return entry.usage.split(' ')[0] as string;
}
