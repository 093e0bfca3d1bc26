// Owns how the CLI's reads reach the running stack's ClickHouse: endpoint and credentials from the Config.

import { stackEndpoints, type Config } from '../config/index.js';
import type { ClickHouseConnection } from '../clickhouse/http-client.js';

export function stackConnection(config: Config, timeoutMs = 60_000): ClickHouseConnection {
  return { url: stackEndpoints(config).clickhouse, username: config.auth.username, password: config.auth.password, database: config.database, timeoutMs };
}
