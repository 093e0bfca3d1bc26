// Owns what each role may run on the embedded engine, decided by allow-list from the parsed statement.

import { CH, ClickHouseError, chError } from '../../../clickhouse/errors.js';
import { walk, type AstNode } from '../../../clickhouse/explain-ast.js';
import { findWords, leadingKeywords, qualifiedNames, settingAssignments, type Token } from '../../../clickhouse/sql-lexer.js';
import { INGEST_TABLES, type Role } from '../../../config/roles.js';

/** Table functions that only compute: nothing they do reaches a file, a URL, another server or another table. */
export const SAFE_TABLE_FUNCTIONS: ReadonlySet<string> = new Set([
  'numbers', 'numbers_mt', 'zeros', 'zeros_mt', 'values', 'generateRandom', 'null', 'format', 'generate_series', 'generateSeries',
]);

/** Table engines admin may create tables with: data kept in the store, nothing read from elsewhere. */
export const SAFE_ENGINES: ReadonlySet<string> = new Set([
  'MergeTree', 'ReplacingMergeTree', 'SummingMergeTree', 'AggregatingMergeTree', 'CollapsingMergeTree',
  'VersionedCollapsingMergeTree', 'CoalescingMergeTree', 'Memory', 'Log', 'TinyLog', 'StripeLog', 'Null', 'Set', 'Join',
]);

/** Scalar functions that reach outside the store (files, models, dictionaries, other tables by name) or the process. */
const DENIED_FUNCTIONS = /^(file|catboostEvaluate|modelEvaluate|dictGet\w*|dictHas|dictIsIn|joinGet\w*|addressToLine\w*|addressToSymbol|demangle|getClientHTTPHeader)$/i;

/** System tables reader and admin may read: descriptions of the store, never other clients' queries or secrets. */
export const SAFE_SYSTEM_TABLES: ReadonlySet<string> = new Set([
  'one', 'numbers', 'numbers_mt', 'zeros', 'zeros_mt', 'tables', 'columns', 'databases', 'parts', 'parts_columns', 'data_skipping_indices',
  'functions', 'formats', 'settings', 'data_type_families', 'table_functions', 'table_engines', 'time_zones', 'build_options',
  'merges', 'mutations', 'disks', 'storage_policies', 'asynchronous_metrics', 'metrics', 'events', 'collations', 'contributors',
  'aggregate_function_combinators', 'keywords', 'licenses',
]);
const INFORMATION_SCHEMA = new Set(['information_schema', 'INFORMATION_SCHEMA']);

/** Settings no role may change: they would open what the roles close, or outlive the request on a shared engine. */
const DENIED_SETTINGS = new Set([
  'allow_introspection_functions', 'allow_get_client_http_header', 'default_table_engine', 'default_temporary_table_engine',
  'max_session_timeout', 'allow_experimental_analyzer',
]);
/** Settings the policy answers itself (never passed to the engine): `readonly` and `allow_ddl` narrow a request. */
export const POLICY_SETTINGS: ReadonlySet<string> = new Set(['readonly', 'allow_ddl']);
/** What the ingest role may set: how rows are parsed and inserted, and how the answer is written. */
const INGEST_SETTINGS = /^(input_format_\w+|insert_\w+|async_insert\w*|wait_for_async_insert\w*|date_time_input_format|format_\w+|max_insert_\w+|min_insert_\w+|output_format_\w+|log_comment|max_execution_time|max_query_size|session_timezone|deduplicate_blocks_in_dependent_materialized_views|max_partitions_per_insert_block|throw_on_max_partitions_per_insert_block|http_\w+|send_progress_in_http_headers|cancel_http_readonly_queries_on_client_close)$/;

export interface AccessContext {
  role: Role;
  user: string;
  /** The telemetry database: the only one any role writes or reads data in. */
  database: string;
  /** The database unqualified names resolve in for this request. */
  currentDatabase: string;
  /** A GET request or a `readonly` setting: only reads. */
  readonly: boolean;
  inSession: boolean;
  /** Every database the engine has, so that `a.b` can tell a database from a table alias. */
  knownDatabases: ReadonlySet<string>;
  /** Temporary tables of this request's session, and those of every other session. */
  ownTemporaryTables: ReadonlySet<string>;
  otherTemporaryTables: ReadonlySet<string>;
  /** Values of `{name:Identifier}` parameters, which become names when the statement runs. */
  identifierParams: Readonly<Record<string, string>>;
}

export type Verdict =
  | { kind: 'read' | 'write' | 'ddl'; settings: Setting[] }
  | { kind: 'set'; settings: Setting[] }
  | { kind: 'use'; database: string; settings: Setting[] }
  | { kind: 'create-temporary' | 'drop-temporary'; table: string; settings: Setting[] };

export interface Setting {
  name: string;
  value: string;
}

const READ_TYPES = new Set([
  'SelectWithUnionQuery', 'SelectIntersectExceptQuery', 'ShowTables', 'ShowCreateTableQuery', 'ShowCreateViewQuery', 'DescribeQuery',
  'ExistsTableQuery', 'ExistsViewQuery', 'ShowColumns', 'ShowIndexes',
]);

/** Decides whether `ctx.role` may run the statement; throws the ClickHouse error a refusal carries. */
export function authorize(ast: AstNode, tokens: Token[], ctx: AccessContext): Verdict {
  refuseOutsideReach(tokens, ctx);
  const settings = settingAssignments(tokens).map(({ name, value }) => ({ name, value }));
  checkSettings(settings, ctx);
  const verdict = classify(ast, tokens, ctx, settings);
  checkReferences(ast, tokens, ctx, verdict);
  if (ctx.readonly && verdict.kind !== 'read' && verdict.kind !== 'set' && verdict.kind !== 'use') {
    throw chError(CH.READONLY, `${ctx.user}: Cannot execute query in readonly mode`);
  }
  return verdict;
}

function classify(ast: AstNode, tokens: Token[], ctx: AccessContext, settings: Setting[]): Verdict {
  const type = ast.type;
  const words = leadingKeywords(tokens, 4);
  if (READ_TYPES.has(type)) return { kind: 'read', settings };
  if (type === 'Explain EXPLAIN') {
    const inner = ast.children[0];
    if (inner && (inner.type === 'SelectWithUnionQuery' || inner.type === 'SelectIntersectExceptQuery')) return { kind: 'read', settings };
    throw denied(ctx, 'EXPLAIN of anything but a SELECT');
  }
  if (type === 'Set') {
    if (!ctx.inSession) {
      throw chError(CH.BAD_ARGUMENTS, 'SET changes settings only inside a session: send a session_id, or pass settings as URL parameters for this request');
    }
    return { kind: 'set', settings };
  }
  if (type === 'UseQuery') {
    const database = ast.args[0] ?? '';
    checkDatabaseAccess(database, ctx);
    return { kind: 'use', database, settings };
  }
  if (type === 'InsertQuery') {
    for (const child of ast.children) {
      if (child.type === 'Function') throw denied(ctx, `INSERT INTO FUNCTION ${child.args[0] ?? ''}`, 'table functions write outside the store');
      if (child.type === 'SelectWithUnionQuery' && ctx.role === 'ingest') throw notEnough(ctx, 'SELECT', 'INSERT … SELECT reads tables');
    }
    authorizeInsert(targetTable(ast, ctx), ctx);
    return { kind: 'write', settings };
  }
  if (type === 'CreateQuery') return classifyCreate(ast, tokens, words, ctx, settings);
  if (type === 'DropQuery') {
    if (words[1] === 'DATABASE' || words[1] === 'DICTIONARY') throw denied(ctx, `DROP ${words[1]}`);
    const target = targetTable(ast, ctx);
    if (words[1] === 'TEMPORARY' || (!target.qualified && ctx.ownTemporaryTables.has(target.table))) {
      if (!ctx.ownTemporaryTables.has(target.table)) throw unknownTable(target.table);
      return { kind: 'drop-temporary', table: target.table, settings };
    }
    return ddl(ast, ctx, settings, `DROP ${words[1] ?? 'TABLE'}`);
  }
  if (type === 'Rename') {
    if (words[1] === 'DATABASE' || words[1] === 'DICTIONARY') throw denied(ctx, `RENAME ${words[1]}`);
    return ddl(ast, ctx, settings, 'RENAME TABLE');
  }
  if (['AlterQuery', 'TruncateQuery', 'OptimizeQuery', 'DeleteQuery', 'CheckQuery'].includes(type)) {
    if (type === 'AlterQuery' && words[1] !== 'TABLE') throw denied(ctx, `ALTER ${words[1] ?? ''}`);
    return ddl(ast, ctx, settings, words.slice(0, 2).join(' '));
  }
  throw denied(ctx, describe(type, words), 'it reaches outside the telemetry store (the server, its files, users or other clients)');
}

function classifyCreate(ast: AstNode, tokens: Token[], words: string[], ctx: AccessContext, settings: Setting[]): Verdict {
  const kind = words[1] === 'OR' ? words.slice(3) : words.slice(1);
  const what = kind[0] === 'MATERIALIZED' ? 'MATERIALIZED VIEW' : kind[0] ?? '';
  if (what === 'TEMPORARY') {
    const target = targetTable(ast, ctx);
    if (!ctx.inSession) throw chError(CH.BAD_ARGUMENTS, 'temporary tables live in a session: send a session_id');
    if (ctx.role === 'ingest') throw notEnough(ctx, 'CREATE TEMPORARY TABLE', 'the ingest role only inserts');
    if (ctx.otherTemporaryTables.has(target.table)) {
      throw chError(CH.BAD_ARGUMENTS, `the temporary table name ${target.table} is taken by another session on this engine; choose another`);
    }
    checkEngines(tokens, ctx);
    return { kind: 'create-temporary', table: target.table, settings };
  }
  if (what === 'DATABASE' && ctx.role === 'admin' && targetTable(ast, ctx).table === ctx.database) return { kind: 'ddl', settings };
  if (what !== 'TABLE' && what !== 'VIEW' && what !== 'MATERIALIZED VIEW') throw denied(ctx, `CREATE ${what}`);
  checkEngines(tokens, ctx);
  return ddl(ast, ctx, settings, `CREATE ${what}`);
}

/** DDL on the tables the statement names at its top (ALTER t, DROP t, RENAME a TO b …): admin, in the telemetry database. */
function ddl(ast: AstNode, ctx: AccessContext, settings: Setting[], what: string): Verdict {
  if (ctx.role !== 'admin') {
    if (ctx.role === 'reader') throw chError(CH.READONLY, `${ctx.user}: Cannot execute query in readonly mode`);
    throw notEnough(ctx, what, 'the ingest role only inserts');
  }
  for (const { database, table } of topTables(ast, ctx)) {
    if (database !== ctx.database) throw notEnough(ctx, `${what} ON ${database}.${table}`, `admin changes tables of the ${ctx.database} database only`);
  }
  return { kind: 'ddl', settings };
}

/** Every `ENGINE = Name` of the statement (the table's, a materialized view's inner table) must keep data in the store. */
function checkEngines(tokens: Token[], ctx: AccessContext): void {
  for (const at of findWords(tokens, 'ENGINE')) {
    const eq = tokens[at + 1];
    const name = tokens[at + 2];
    if (eq?.kind !== 'punct' || eq.value !== '=' || !name) continue;
    if (!SAFE_ENGINES.has(name.value)) {
      throw denied(ctx, `table engine ${name.value}`, `only engines that keep data in the store: ${[...SAFE_ENGINES].join(', ')}`);
    }
  }
}

/** The table an INSERT, CREATE or DROP names: its first Identifier children (one: a table; two: database and table). */
function targetTable(ast: AstNode, ctx: AccessContext): { database: string; table: string; qualified: boolean } {
  const ids = ast.children.filter((c) => c.type === 'Identifier').map((c) => c.args.join(' '));
  if (ids.length >= 2) return { database: ids[0] as string, table: ids[1] as string, qualified: true };
  return { database: ctx.currentDatabase, table: ids[0] ?? '', qualified: false };
}

function topTables(ast: AstNode, ctx: AccessContext): Array<{ database: string; table: string }> {
  const ids = ast.children.filter((c) => c.type === 'Identifier').map((c) => c.args.join(' '));
  if (ast.type === 'Rename') {
    const out: Array<{ database: string; table: string }> = [];
    for (let i = 0; i + 1 < ids.length; i += 2) out.push({ database: ids[i] as string, table: ids[i + 1] as string });
    return out;
  }
  const target = targetTable(ast, ctx);
  return [{ database: target.database, table: target.table }];
}

/**
 * Whether `ctx.role` may insert into `target`: the parsed INSERT and the INSERT whose rows travel in the body (parsed
 * without the engine) both ask here. A reader fills its own temporary tables (its session's scratch space) only.
 */
export function authorizeInsert(target: { database: string; table: string; qualified: boolean }, ctx: AccessContext): void {
  const ownTemporary = !target.qualified && ctx.ownTemporaryTables.has(target.table);
  if (ctx.readonly || (ctx.role === 'reader' && !ownTemporary)) throw chError(CH.READONLY, `${ctx.user}: Cannot execute query in readonly mode`);
  checkInsertTarget(target, ctx);
}

function checkInsertTarget({ database, table, qualified }: { database: string; table: string; qualified: boolean }, ctx: AccessContext): void {
  if (!qualified && ctx.ownTemporaryTables.has(table)) return;
  if (!qualified && ctx.otherTemporaryTables.has(table)) throw unknownTable(table);
  if (database !== ctx.database) throw notEnough(ctx, `INSERT ON ${database}.${table}`, `inserts go to the ${ctx.database} database only`);
  if (ctx.role === 'ingest' && !INGEST_TABLES.has(table)) {
    throw notEnough(ctx, `INSERT ON ${database}.${table}`, `the ingest role inserts into ${[...INGEST_TABLES].join(', ')} only`);
  }
}

/** Every table and function the statement touches, wherever it stands (subqueries, JOINs, IN, views' SELECTs). */
function checkReferences(ast: AstNode, tokens: Token[], ctx: AccessContext, verdict: Verdict): void {
  for (const node of walk(ast)) {
    if (node.type === 'TableIdentifier') checkRead(node.args.join(' '), ctx);
    if (node.type === 'Function') checkFunction(node, ctx);
  }
  for (const { qualifier, name } of qualifiedNames(tokens)) {
    if (ctx.knownDatabases.has(qualifier) && qualifier !== ctx.database) checkRead(`${qualifier}.${name}`, ctx);
  }
  for (const token of tokens) {
    if (token.kind === 'param' && /:Identifier$/i.test(token.value)) {
      const value = ctx.identifierParams[token.value.split(':')[0] as string];
      if (value !== undefined) checkRead(value, ctx);
    }
    if ((token.kind === 'word' || token.kind === 'quoted') && ctx.otherTemporaryTables.has(token.value) && verdict.kind !== 'create-temporary') {
      throw unknownTable(token.value);
    }
  }
}

/** A table read: data of the telemetry database (reader, admin), the safe system tables, or a session's own temporary table. */
function checkRead(name: string, ctx: AccessContext): void {
  const dot = name.indexOf('.');
  const database = dot === -1 ? ctx.currentDatabase : name.slice(0, dot);
  const table = dot === -1 ? name : name.slice(dot + 1);
  if (dot === -1 && ctx.ownTemporaryTables.has(table)) return;
  if (dot === -1 && ctx.otherTemporaryTables.has(table)) throw unknownTable(table);
  if (ctx.role === 'ingest') throw notEnough(ctx, `SELECT ON ${database}.${table}`, 'the ingest role only inserts');
  if (database === ctx.database) return;
  if (database === 'system') {
    if (SAFE_SYSTEM_TABLES.has(table)) return;
    throw notEnough(ctx, `SELECT ON system.${table}`, 'this system table shows other clients or the server itself');
  }
  if (INFORMATION_SCHEMA.has(database)) return;
  throw notEnough(ctx, `SELECT ON ${database}.${table}`, `reads are limited to the ${ctx.database} database`);
}

function checkDatabaseAccess(database: string, ctx: AccessContext): void {
  if (database === ctx.database) return;
  if (ctx.role !== 'ingest' && (database === 'system' || INFORMATION_SCHEMA.has(database))) return;
  throw notEnough(ctx, `SHOW ON ${database}.*`, `the ${ctx.database} database only`);
}

function checkFunction(node: AstNode, ctx: AccessContext): void {
  const name = node.args[0] ?? '';
  const parent = node.parent;
  // The engine and the PARTITION/ORDER BY expressions sit under `Storage definition`: engines are checked by name
  // (checkEngines), the expressions like any other function.
  const asTable = parent?.type === 'TableExpression' || parent?.type === 'CreateQuery' || parent?.type === 'InsertQuery';
  if (asTable) {
    if (ctx.role === 'ingest') throw notEnough(ctx, `CREATE TEMPORARY TABLE, ${name.toUpperCase()} ON *.*`, 'the ingest role only inserts');
    if (!SAFE_TABLE_FUNCTIONS.has(name)) {
      throw denied(ctx, `table function ${name}`, `it reaches files, URLs, other servers or other databases; allowed: ${[...SAFE_TABLE_FUNCTIONS].join(', ')}`);
    }
    return;
  }
  if (DENIED_FUNCTIONS.test(name)) throw denied(ctx, `function ${name}`, 'it reads outside the telemetry store');
}

function refuseOutsideReach(tokens: Token[], ctx: AccessContext): void {
  if (findWords(tokens, 'INTO', 'OUTFILE').length > 0) {
    throw chError(CH.INTO_OUTFILE_NOT_ALLOWED, `${ctx.user}: INTO OUTFILE is not allowed: results come back in the HTTP response`);
  }
  if (findWords(tokens, 'FROM', 'INFILE').length > 0) {
    throw denied(ctx, 'FROM INFILE', 'send the rows in the request body');
  }
}

function checkSettings(settings: Setting[], ctx: AccessContext): void {
  for (const { name, value } of settings) checkSetting(name, value, ctx);
}

/** Whether `ctx.role` may set `name` (in a SETTINGS clause, a SET, or a URL parameter). */
export function checkSetting(name: string, value: string, ctx: Pick<AccessContext, 'role' | 'user'>): void {
  if (name === 'readonly') {
    if (ctx.role !== 'admin' && Number(value) === 0) throw chError(CH.READONLY, `${ctx.user}: Cannot modify 'readonly' setting in readonly mode`);
    return;
  }
  if (POLICY_SETTINGS.has(name)) return;
  if (DENIED_SETTINGS.has(name)) {
    throw chError(CH.SETTING_CONSTRAINT_VIOLATION, `${ctx.user}: Setting ${name} should not be changed: it would lift a limit of this engine`);
  }
  if (ctx.role === 'ingest' && !INGEST_SETTINGS.test(name)) {
    throw chError(CH.SETTING_CONSTRAINT_VIOLATION, `${ctx.user}: Setting ${name} should not be changed: the ingest role sets insert settings only`);
  }
}

function describe(type: string, words: string[]): string {
  const head = words.slice(0, 2).join(' ');
  return head !== '' ? head : type;
}

function denied(ctx: AccessContext, what: string, why = 'the embedded engine never runs it for any user'): ClickHouseError {
  return chError(CH.ACCESS_DENIED, `${ctx.user}: Not enough privileges: ${what} is refused (${why})`);
}

function notEnough(ctx: AccessContext, grant: string, why: string): ClickHouseError {
  return chError(CH.ACCESS_DENIED, `${ctx.user}: Not enough privileges. To execute this query, it's necessary to have the grant ${grant} (${why})`);
}

function unknownTable(name: string): ClickHouseError {
  return chError(CH.UNKNOWN_TABLE, `Table ${name} does not exist`);
}
