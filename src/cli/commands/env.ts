// Owns `env`: the variables that point an app's SDK (or any OpenTelemetry SDK) at the local stack.

import type { Command } from 'commander';
import { basicAuthorization } from '../../clickhouse/connection.js';
import { ROLE_SPECS, ROLES, stackEndpoints, type Config, type Role } from '../../config/index.js';
import { TelemetryError } from '../../errors.js';
import { EXIT } from '../errors.js';
import { stackCommand, type Cli, type Stack } from '../stack.js';

const SHELLS = ['sh', 'fish', 'dotenv'] as const;
type Shell = (typeof SHELLS)[number];

/**
 * The variables for a config, in the order they are printed. Whatever the role, the credential goes under the names
 * apps read (AUTOMAGIK_TELEMETRY_CLICKHOUSE_USERNAME/PASSWORD, OTEL_EXPORTER_OTLP_HEADERS); the default, ingest, is
 * the one an app should hold.
 */
export function sdkEnvironment(config: Config, role: Role = 'ingest'): Record<string, string> {
  const endpoints = stackEndpoints(config);
  const credential = config.auth.roles[role];
  const vars: Record<string, string> = {
    AUTOMAGIK_TELEMETRY_ENDPOINT: endpoints.otlpTraces,
    AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT: endpoints.clickhouse,
    AUTOMAGIK_TELEMETRY_CLICKHOUSE_DATABASE: config.database,
    AUTOMAGIK_TELEMETRY_CLICKHOUSE_USERNAME: credential.username,
  };
  if (credential.password !== undefined) vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD = credential.password;
  vars.OTEL_EXPORTER_OTLP_ENDPOINT = endpoints.otlp;
  // OTLP/HTTP with protobuf for every signal: what the receiver and the collector both take on this endpoint.
  vars.OTEL_EXPORTER_OTLP_PROTOCOL = 'http/protobuf';
  const authorization = basicAuthorization(credential);
  // OTEL_EXPORTER_OTLP_HEADERS values are URL-encoded (OpenTelemetry SDK environment variable specification).
  if (authorization) vars.OTEL_EXPORTER_OTLP_HEADERS = `Authorization=${encodeURIComponent(authorization)}`;
  if (config.tls.enabled) {
    // The stack's own CA: our SDK, OpenTelemetry's exporters (spec: OTEL_EXPORTER_OTLP_CERTIFICATE) and any Node client.
    vars.AUTOMAGIK_TELEMETRY_CA_FILE = config.tls.caFile;
    vars.OTEL_EXPORTER_OTLP_CERTIFICATE = config.tls.caFile;
    vars.NODE_EXTRA_CA_CERTS = config.tls.caFile;
  }
  return vars;
}

function render(vars: Record<string, string>, shell: Shell): string {
  const quote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;
  return Object.entries(vars)
    .map(([k, v]) => (shell === 'fish' ? `set -gx ${k} ${quote(v)}` : shell === 'sh' ? `export ${k}=${quote(v)}` : `${k}=${v}`))
    .join('\n');
}

export function register(program: Command, cli: Cli): void {
  stackCommand(
    cli,
    program
      .command('env')
      .description('print the variables that point an app at the stack (endpoints, user, password); this is the one command that prints the secret')
      .option('--shell <kind>', `output syntax: ${SHELLS.join(', ')}`, 'sh')
      .option('--role <role>', `whose credential: ${ROLES.join(', ')} (ingest is what apps should hold)`, 'ingest')
      .option('--json', 'print the variables as a JSON object')
      .addHelpText(
        'after',
        `
Roles:
${ROLES.map((r) => `  ${r.padEnd(7)} ${ROLE_SPECS[r].username.padEnd(17)} ${ROLE_SPECS[r].purpose}`).join('\n')}

Examples:
  $ eval "$(automagik-telemetry env)"            # sh, bash, zsh: an app's (ingest) credential
  $ automagik-telemetry env --role reader --json # the credential for a dashboard or Grafana
  $ automagik-telemetry env --shell fish | source
  $ automagik-telemetry env --shell dotenv >> .env`,
      ),
    env,
  );
}

export async function env({ config, ui, startCommand }: Stack, options: { shell: string; role?: string; json?: boolean }): Promise<number> {
  if (!(SHELLS as readonly string[]).includes(options.shell)) {
    throw new TelemetryError('E_CONFIG', `--shell ${JSON.stringify(options.shell)} is not one of ${SHELLS.join(', ')}`);
  }
  const role = (options.role ?? 'ingest') as Role;
  if (!(ROLES as readonly string[]).includes(role)) {
    throw new TelemetryError('E_CONFIG', `--role ${JSON.stringify(options.role)} is not one of ${ROLES.join(', ')}`);
  }
  if (config.auth.required && config.auth.roles[role].password === undefined) {
    throw new TelemetryError('E_CONFIG', `no credentials yet in ${config.paths.envFile}`, {
      hint: `Run \`${startCommand}\` first: it generates the password.`,
    });
  }
  const vars = sdkEnvironment(config, role);
  if (options.json) ui.json(vars);
  else ui.out(render(vars, options.shell as Shell));
  return EXIT.OK;
}
