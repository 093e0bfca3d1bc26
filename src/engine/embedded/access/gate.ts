// Owns deciding, for one ClickHouse HTTP request, what runs and with which settings, database and session state.

import { CH, chError } from '../../../clickhouse/errors.js';
import { unescapeParam } from '../../../clickhouse/sql-lexer.js';
import type { InsertStatement } from '../../../clickhouse/statement.js';
import type { Role } from '../../../config/roles.js';
import { quoteIdentifier, type EmbeddedDatabase } from '../database.js';
import { StatementAnalyzer } from './analyze.js';
import { POLICY_SETTINGS, authorize, authorizeInsert, checkSetting, type AccessContext, type Verdict } from './policy.js';
import { SessionStore, type Session } from './sessions.js';

export interface Caller {
  role: Role;
  user: string;
}

export interface RequestScope {
  caller: Caller;
  /** The `database` URL parameter, if sent. */
  database: string | undefined;
  /** Settings sent as URL parameters. */
  settings: Record<string, string>;
  /** A GET request: reads only, as ClickHouse's HTTP interface has it. */
  get: boolean;
  session: Session | undefined;
}

export interface Execution {
  /** Settings the engine runs the statement with (the session's, then the request's; policy settings removed). */
  settings: Record<string, string>;
  database: string;
  params: Record<string, string>;
}

const SWEEP_MS = 5_000;

export class AccessGate {
  readonly sessions: SessionStore;
  private readonly analyzer: StatementAnalyzer;
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly db: EmbeddedDatabase,
    /** The telemetry database: the default for every request, and the only one data lives in. */
    private readonly database: string,
  ) {
    this.analyzer = new StatementAnalyzer(db);
    this.sessions = new SessionStore((session) => this.dropTemporaryTables(session));
    this.sweeper = setInterval(() => void this.sessions.expire(), SWEEP_MS);
    this.sweeper.unref();
  }

  /** Checks a SQL statement and answers what it is (read, write, set …) and how to run it. Throws the refusal. */
  async checkSql(scope: RequestScope, sql: string, rawParams: Record<string, string>): Promise<{ verdict: Verdict; run: Execution }> {
    const params = decodeParams(rawParams);
    const run = this.execution(scope, params);
    const analyzed = await this.analyzer.analyze(sql, params);
    const verdict = authorize(analyzed.ast, analyzed.tokens, this.context(scope, run, await this.analyzer.knownDatabases()));
    if (verdict.kind === 'create-temporary' && (await this.tableExists(run.database, verdict.table))) {
      throw chError(CH.BAD_ARGUMENTS, `a temporary table named ${verdict.table} would hide ${run.database}.${verdict.table} from every client; choose another name`);
    }
    return { verdict, run };
  }

  /** Checks an INSERT whose rows travel in the body (parsed without the engine: its table, columns, settings). */
  checkInsert(scope: RequestScope, insert: InsertStatement): Execution {
    const run = this.execution(scope, {});
    if (scope.get) throw chError(CH.READONLY, 'Cannot execute query in readonly mode: GET requests may only read; use POST');
    for (const [name, value] of Object.entries(insert.settings)) checkSetting(name, value, scope.caller);
    const dot = insert.table.indexOf('.');
    const target = dot === -1 ? { database: run.database, table: insert.table, qualified: false } : { database: insert.table.slice(0, dot), table: insert.table.slice(dot + 1), qualified: true };
    // No statement to parse: no names to tell databases from aliases by, so no known databases needed.
    authorizeInsert(target, this.context(scope, run, new Set()));
    return run;
  }

  /** Applies a SET or USE to the request's session. */
  remember(scope: RequestScope, verdict: Verdict): void {
    const session = scope.session;
    if (!session) return;
    if (verdict.kind === 'set') for (const { name, value } of verdict.settings) session.settings.set(name, value);
    if (verdict.kind === 'use') session.database = verdict.database;
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    await this.sessions.closeAll();
  }

  private execution(scope: RequestScope, params: Record<string, string>): Execution {
    for (const [name, value] of Object.entries(scope.settings)) checkSetting(name, value, scope.caller);
    const merged: Record<string, string> = { ...Object.fromEntries(scope.session?.settings ?? []), ...scope.settings };
    const settings: Record<string, string> = {};
    for (const [name, value] of Object.entries(merged)) if (!POLICY_SETTINGS.has(name)) settings[name] = value;
    const database = scope.database && scope.database !== '' ? scope.database : (scope.session?.database ?? this.database);
    return { settings, database, params };
  }

  /** What the policy decides by: the caller, the request's database and session, and the other sessions' tables. */
  private context(scope: RequestScope, run: Execution, knownDatabases: ReadonlySet<string>): AccessContext {
    return {
      role: scope.caller.role,
      user: scope.caller.user,
      database: this.database,
      currentDatabase: run.database,
      readonly: scope.get || this.readonlyOf(scope),
      inSession: scope.session !== undefined,
      knownDatabases,
      ownTemporaryTables: scope.session?.temporaryTables ?? new Set(),
      otherTemporaryTables: this.sessions.temporaryTablesOfOthers(scope.session),
      identifierParams: run.params,
    };
  }

  private readonlyOf(scope: RequestScope): boolean {
    const value = scope.settings.readonly ?? scope.session?.settings.get('readonly');
    return value !== undefined && Number(value) >= 1;
  }

  private async tableExists(database: string, table: string): Promise<boolean> {
    const outcome = await this.db.query('SELECT count() FROM system.tables WHERE database = {d:String} AND name = {t:String}', {
      params: { d: database, t: table },
      format: 'TabSeparatedRaw',
    });
    return Buffer.from(outcome.body).toString('utf8').trim() !== '0';
  }

  private async dropTemporaryTables(session: Session): Promise<void> {
    for (const table of session.temporaryTables) {
      await this.db.query(`DROP TEMPORARY TABLE IF EXISTS ${quoteIdentifier(table)}`).catch(() => undefined);
    }
  }
}

/** `param_<name>` values arrive in ClickHouse's escaped form; the engine binds them as given, so decode them here. */
function decodeParams(raw: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) out[name] = unescapeParam(value);
  return out;
}
