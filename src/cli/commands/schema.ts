// Owns `schema print` (the DDL, single-node or for a cluster) and `schema apply` (to the running stack).

import type { Command } from 'commander';
import { queryRows, statementRunner } from '../../clickhouse/http-client.js';
import { TelemetryError } from '../../errors.js';
import { clusterConfigXml, clusterStatements, CLUSTER_NAME } from '../../schema/cluster.js';
import { loadConfig } from '../../config/index.js';
import { liveRunState } from '../../engine/run-state.js';
import { applySchema, schemaText } from '../../schema/index.js';
import { checkSchemaTables } from '../../schema/check.js';
import { repairRollups } from '../../schema/rollups.js';
import { withRetention } from '../../schema/retention.js';
import { applyClusterSchema, applyServerSchema } from '../../schema/server.js';
import { EXIT } from '../errors.js';
import { numberFlag } from '../flags.js';
import { stackCommand, type Cli } from '../stack.js';

export function register(program: Command, cli: Cli): void {
  const { ui } = cli;
  const schema = program.command('schema').description('print or apply the schema, single-node or for a ClickHouse cluster');
  schema
    .command('print')
    .description('print the DDL: single-node by default; with --cluster, replicated local tables + Distributed tables')
    .option('--cluster <name>', `a cluster from ClickHouse's remote_servers (templates/cluster/ defines "${CLUSTER_NAME}")`)
    .option('--database <name>', 'database name', 'telemetry')
    .option('--shards <n>', 'with --cluster and --replicas: also print the server config (remote_servers) for this layout, as a comment')
    .option('--replicas <m>', 'replicas per shard (with --shards)')
    .addHelpText(
      'after',
      `
Examples:
  $ automagik-telemetry schema print
  $ automagik-telemetry schema print --cluster telemetry_cluster
  $ automagik-telemetry schema print --cluster telemetry_cluster --shards 3 --replicas 2`,
    )
    .action((options: { cluster?: string; database: string; shards?: string; replicas?: string }) =>
      cli.run(async () => {
        if ((options.shards === undefined) !== (options.replicas === undefined) || (options.shards !== undefined && options.cluster === undefined)) {
          throw new TelemetryError('E_CONFIG', '--shards and --replicas go together, with --cluster');
        }
        // The TTLs say AUTOMAGIK_TELEMETRY_RETENTION_DAYS (environment, then <home>/.env, else 90).
        const { retentionDays } = await loadConfig();
        if (options.cluster === undefined) {
          ui.out(withRetention(await schemaText(options.database), retentionDays));
          return EXIT.OK;
        }
        const statements = (await clusterStatements(options.cluster, options.database)).map((s) => withRetention(s, retentionDays));
        if (options.shards !== undefined && options.replicas !== undefined) {
          const xml = clusterConfigXml(options.cluster, numberFlag(options.shards, '--shards', { min: 1, whole: true }), numberFlag(options.replicas, '--replicas', { min: 1, whole: true }));
          ui.out(`-- Server config for this layout (config.d/cluster.xml on every node; macros shard and replica per node):\n${xml.trimEnd().replace(/^/gm, '-- ')}\n`);
        }
        ui.out(`${statements.join(';\n\n')};`);
        return EXIT.OK;
      }),
    );
  stackCommand(
    cli,
    schema
      .command('apply')
      .description('apply the schema to the running stack (or, with --cluster, to the cluster the stack endpoint belongs to)')
      .option('--cluster <name>', 'apply the cluster DDL (ON CLUSTER), the collector\'s route and the ingest and reader users on every node')
      .option('--docker', 'a ClickHouse server started with plain `docker compose`: also the collector\'s route and the ingest and reader users')
      .option('--json', 'print the result as JSON'),
    async ({ ui, config, connection: connect }, options: { cluster?: string; docker?: boolean; json?: boolean }) => {
      // Aimed at this home's running embedded engine, the users and ON CLUSTER statements could only be refused.
      if ((options.docker || options.cluster !== undefined) && (await liveRunState(config))?.engine === 'embedded') {
        throw new TelemetryError('E_CONFIG', `${options.docker ? '--docker' : '--cluster'} is for a ClickHouse server; this home's running stack is the embedded engine`, {
          hint: 'The embedded engine applies its schema, users and retention itself on start: run `automagik-telemetry schema apply` without it, or restart.',
        });
      }
      const connection = connect('admin');
      const runner = statementRunner(connection);
      if (options.cluster !== undefined) {
        const result = await applyClusterSchema(runner, config, options.cluster);
        if (options.json) ui.json({ cluster: options.cluster, ...result });
        else ui.out(`applied ${result.statements} statements on cluster ${options.cluster}${retentionNote(result.retention.length, config.retentionDays)}`);
        return EXIT.OK;
      }
      if (options.docker) {
        const result = await applyServerSchema(runner, config);
        if (options.json) ui.json(result);
        else ui.out(`schema version ${result.version}, the collector's route and the users are in place${retentionNote(result.retention.length, config.retentionDays)}`);
        return EXIT.OK;
      }
      const result = await applySchema(runner, config.database);
      if (options.json) ui.json(result);
      else ui.out(result.applied.length === 0 ? `schema is current (version ${result.version})` : `applied schema version(s) ${result.applied.join(', ')}`);
      return EXIT.OK;
    },
  );
  stackCommand(
    cli,
    schema
      .command('check')
      .description('check that every table is there and that the hourly rollups agree with the raw rows; rebuild hours that differ')
      .option('--json', 'print the result as JSON')
      .addHelpText(
        'after',
        `
The rollups (metrics_hourly, metric_points_hourly) are compared with the raw rows hour by hour; an hour whose counts
differ is rebuilt from the raw rows. The embedded engine does this on every start and every hour by itself.

Examples:
  $ automagik-telemetry schema check
  $ automagik-telemetry schema check --json`,
      ),
    async ({ ui, config, connection: connect }, options: { json?: boolean }) => {
      const connection = connect('admin');
      const tables = await checkSchemaTables((sql, params) => queryRows<{ name: string }>(connection, sql, params), config.database);
      const repairs = await repairRollups(statementRunner(connection), config.database);
      if (options.json) {
        ui.json({ tables, rollups: repairs.map((r) => ({ rollup: r.rollup, rebuiltHours: r.rebuilt })) });
        return EXIT.OK;
      }
      ui.out(tables);
      for (const repair of repairs) {
        if (repair.rebuilt.length === 0) ui.out(`${repair.rollup}: agrees with the raw rows`);
        else {
          ui.out(`${repair.rollup}: rebuilt ${repair.rebuilt.length} hour(s) that differed from the raw rows:`);
          for (const d of repair.rebuilt.slice(0, 20)) ui.out(`  ${d.hour}  raw ${d.raw}, rollup had ${d.rolledUp}`);
          if (repair.rebuilt.length > 20) ui.out(`  … and ${repair.rebuilt.length - 20} more`);
        }
      }
      return EXIT.OK;
    },
  );
}

function retentionNote(changed: number, days: number): string {
  return changed === 0 ? '' : `; ${changed} tables now keep ${days} days`;
}
