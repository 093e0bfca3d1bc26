// Owns pointing the SDK at the local stack: endpoints and credentials from the stack's Config, unless the environment says otherwise.

import { stackEndpoints, type Config } from '../config/index.js';
import type { AutomagikTelemetryOptions } from './options.js';

/** SDK options for the stack `config` describes; any AUTOMAGIK_TELEMETRY_* variable set in `env` still wins. */
export function sdkOptionsForStack(config: Config, env: NodeJS.ProcessEnv): AutomagikTelemetryOptions {
  const endpoints = stackEndpoints(config);
  const fromStack: Array<[keyof AutomagikTelemetryOptions, string, string | undefined]> = [
    ['endpoint', 'ENDPOINT', endpoints.otlpTraces],
    ['clickhouseEndpoint', 'CLICKHOUSE_ENDPOINT', endpoints.clickhouse],
    ['clickhouseDatabase', 'CLICKHOUSE_DATABASE', config.database],
    // Apps, `send` and `test` hold the ingest credential: they insert, nothing else.
    ['clickhouseUsername', 'CLICKHOUSE_USERNAME', config.auth.roles.ingest.username],
    ['clickhousePassword', 'CLICKHOUSE_PASSWORD', config.auth.required ? config.auth.roles.ingest.password : undefined],
  ];
  // A TLS stack's CA; with an endpoint of the environment's own, so is its CA (AUTOMAGIK_TELEMETRY_CA_FILE) or the system's.
  if (config.tls.enabled && !env.AUTOMAGIK_TELEMETRY_ENDPOINT && !env.AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT) fromStack.push(['caFile', 'CA_FILE', config.tls.caFile]);
  const options: Record<string, string> = {};
  for (const [option, name, value] of fromStack) {
    if (value !== undefined && !env[`AUTOMAGIK_TELEMETRY_${name}`]) options[option] = value;
  }
  return options as AutomagikTelemetryOptions;
}
