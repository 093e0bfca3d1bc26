// Owns `env`: the variables that point an app's SDK (or any OpenTelemetry SDK) at the local stack.

import type { Command } from 'commander';
import { stackEndpoints, type Config } from '../../config/index.js';
import { TelemetryError } from '../../errors.js';
import { EXIT } from '../errors.js';
import { stackContext, withStackOptions, type StackOptions } from '../context.js';
import type { Ui } from '../ui.js';

const SHELLS = ['sh', 'fish', 'dotenv'] as const;
type Shell = (typeof SHELLS)[number];

/** The variables for a config, in the order they are printed. */
export function sdkEnvironment(config: Config): Record<string, string> {
  const endpoints = stackEndpoints(config);
  const otlp = endpoints.otlp;
  const vars: Record<string, string> = {
    AUTOMAGIK_TELEMETRY_ENDPOINT: endpoints.otlpTraces,
    AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT: endpoints.clickhouse,
    AUTOMAGIK_TELEMETRY_CLICKHOUSE_DATABASE: config.database,
    AUTOMAGIK_TELEMETRY_CLICKHOUSE_USERNAME: config.auth.username,
  };
  if (config.auth.password !== undefined) {
    vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD = config.auth.password;
  }
  vars.OTEL_EXPORTER_OTLP_ENDPOINT = otlp;
  // OTLP/HTTP with protobuf for every signal: what the receiver and the collector both take on this endpoint.
  vars.OTEL_EXPORTER_OTLP_PROTOCOL = 'http/protobuf';
  if (config.auth.password !== undefined) {
    const basic = Buffer.from(`${config.auth.username}:${config.auth.password}`).toString('base64');
    // OTEL_EXPORTER_OTLP_HEADERS values are URL-encoded (OpenTelemetry SDK environment variable specification).
    vars.OTEL_EXPORTER_OTLP_HEADERS = `Authorization=${encodeURIComponent(`Basic ${basic}`)}`;
  }
  return vars;
}

function render(vars: Record<string, string>, shell: Shell): string {
  const quote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;
  return Object.entries(vars)
    .map(([k, v]) => (shell === 'fish' ? `set -gx ${k} ${quote(v)}` : shell === 'sh' ? `export ${k}=${quote(v)}` : `${k}=${v}`))
    .join('\n');
}

export function registerEnv(program: Command, ui: Ui, run: (action: () => Promise<number>) => Promise<void>): void {
  withStackOptions(
    program
      .command('env')
      .description('print the variables that point an app at the stack (endpoints, user, password); this is the one command that prints the secret')
      .option('--shell <kind>', `output syntax: ${SHELLS.join(', ')}`, 'sh')
      .option('--json', 'print the variables as a JSON object')
      .addHelpText(
        'after',
        `
Examples:
  $ eval "$(automagik-telemetry env)"            # sh, bash, zsh
  $ automagik-telemetry env --shell fish | source
  $ automagik-telemetry env --shell dotenv >> .env`,
      ),
  ).action((options: StackOptions & { shell: string }) =>
    run(async () => {
      if (!(SHELLS as readonly string[]).includes(options.shell)) {
        throw new TelemetryError('E_CONFIG', `--shell ${JSON.stringify(options.shell)} is not one of ${SHELLS.join(', ')}`);
      }
      const { config } = await stackContext(options, ui);
      if (config.auth.required && config.auth.password === undefined) {
        throw new TelemetryError('E_CONFIG', `no credentials yet in ${config.paths.envFile}`, {
          hint: 'Run `automagik-telemetry start` first: it generates the password.',
        });
      }
      const vars = sdkEnvironment(config);
      if (options.json) ui.json(vars);
      else ui.out(render(vars, options.shell as Shell));
      return EXIT.OK;
    }),
  );
}
