// Owns `schema print` (the DDL, single-node or for a cluster) and `schema apply` (to the running stack).

import type { Command } from 'commander';
import { runStatement } from '../../clickhouse/http-client.js';
import { TelemetryError } from '../../errors.js';
import { clusterConfigXml, clusterStatements, CLUSTER_NAME } from '../../schema/cluster.js';
import { applySchema, schemaText } from '../../schema/index.js';
import { checkSchemaTables } from '../../schema/check.js';
import { repairRollups } from '../../schema/rollups.js';
import { queryRows } from '../../clickhouse/http-client.js';
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
        if (options.cluster === undefined) {
          ui.out(await schemaText(options.database));
          return EXIT.OK;
        }
        const statements = await clusterStatements(options.cluster, options.database);
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
      .option('--cluster <name>', 'apply the cluster DDL (ON CLUSTER) instead of the single-node one')
      .option('--json', 'print the result as JSON'),
    async ({ ui, config, connection: connect }, options: { cluster?: string; json?: boolean }) => {
      const connection = connect('admin');
      if (options.cluster !== undefined) {
        const statements = await clusterStatements(options.cluster, config.database);
        for (const statement of statements) await runStatement(connection, statement);
        if (options.json) ui.json({ cluster: options.cluster, statements: statements.length });
        else ui.out(`applied ${statements.length} statements on cluster ${options.cluster}`);
        return EXIT.OK;
      }
      const result = await applySchema({ run: (sql) => runStatement(connection, sql) }, config.database);
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
      const repairs = await repairRollups({ run: (sql) => runStatement(connection, sql) }, config.database);
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
