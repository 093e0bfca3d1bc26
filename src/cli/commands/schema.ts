// Owns `schema print` (the DDL, single-node or for a cluster) and `schema apply` (to the running stack).

import type { Command } from 'commander';
import { runStatement } from '../../clickhouse/http-client.js';
import { TelemetryError } from '../../errors.js';
import { clusterConfigXml, clusterStatements, CLUSTER_NAME } from '../../schema/cluster.js';
import { applySchema, schemaText } from '../../schema/index.js';
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
}
