// Owns parsing a request's SQL with the engine's own parser: one statement, its canonical text, tokens and AST.

import { ClickHouseError, chError, toClickHouseError } from '../../../clickhouse/errors.js';
import { parseExplainAst, type AstNode } from '../../../clickhouse/explain-ast.js';
import { tokenize, type Token } from '../../../clickhouse/sql-lexer.js';
import type { QueryOptions, QueryOutcome } from '../database.js';

export interface AnalyzedStatement {
  /** The statement as ClickHouse's formatter prints it (one statement, comments gone). */
  formatted: string;
  tokens: Token[];
  ast: AstNode;
}

interface Engine {
  query(sql: string, options?: QueryOptions): Promise<QueryOutcome>;
}

const CACHE_ENTRIES = 512;
const CACHEABLE_CHARS = 64 * 1024;
const DATABASES_TTL_MS = 30_000;

/**
 * Parses with ClickHouse's parser through chDB: `formatQuery` (which refuses a second statement as the server does
 * over HTTP, code 62) and `EXPLAIN AST` of the formatted text (which parses and never runs). The user's text only
 * ever travels as a bound parameter, or, for EXPLAIN, after the parser has said it is exactly one statement.
 */
export class StatementAnalyzer {
  private readonly cache = new Map<string, AnalyzedStatement>();
  private databases: { names: Set<string>; at: number } | undefined;

  constructor(private readonly engine: Engine) {}

  async analyze(sql: string, params: Record<string, string>): Promise<AnalyzedStatement> {
    const identifierValues = Object.entries(params).filter(([name]) => new RegExp(`\\{\\s*${name}\\s*:\\s*Identifier\\s*\\}`, 'i').test(sql));
    const key = `${sql}\u0000${JSON.stringify(identifierValues)}`;
    const cached = this.cache.get(key);
    if (cached) {
      this.cache.delete(key);
      this.cache.set(key, cached);
      return cached;
    }
    const formatted = await this.format(sql);
    const tokens = tokenize(formatted);
    const ast = await this.explain(formatted, tokens, params);
    const result = { formatted, tokens, ast };
    if (sql.length <= CACHEABLE_CHARS) {
      this.cache.set(key, result);
      if (this.cache.size > CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value as string);
    }
    return result;
  }

  /** Every database the engine has (refreshed every 30 s): lets `a.b` tell a database from an alias. */
  async knownDatabases(): Promise<Set<string>> {
    if (this.databases && Date.now() - this.databases.at < DATABASES_TTL_MS) return this.databases.names;
    const outcome = await this.engine.query('SELECT name FROM system.databases', { format: 'TabSeparatedRaw' });
    const names = new Set(Buffer.from(outcome.body).toString('utf8').split('\n').filter((n) => n !== ''));
    this.databases = { names, at: Date.now() };
    return names;
  }

  private async format(sql: string): Promise<string> {
    try {
      const outcome = await this.engine.query('SELECT formatQuery({q:String})', { params: { q: sql }, format: 'RawBLOB' });
      return Buffer.from(outcome.body).toString('utf8');
    } catch (error) {
      throw withoutWrapper(toClickHouseError(error, sql), sql);
    }
  }

  private async explain(formatted: string, tokens: Token[], params: Record<string, string>): Promise<AstNode> {
    // A SELECT's own FORMAT clause would format EXPLAIN's output; an INSERT's FORMAT belongs to the INSERT.
    let text = formatted;
    const last = tokens.length - 1;
    const formatWord = tokens[last - 1];
    if (formatWord?.kind === 'word' && formatWord.value.toUpperCase() === 'FORMAT' && tokens[0]?.value.toUpperCase() !== 'INSERT') {
      text = formatted.slice(0, formatWord.start);
    }
    try {
      const outcome = await this.engine.query(`EXPLAIN AST ${text}`, { params, format: 'TabSeparatedRaw' });
      return parseExplainAst(Buffer.from(outcome.body).toString('utf8'));
    } catch (error) {
      if (error instanceof ClickHouseError) throw error;
      throw chError({ code: 62, name: 'SYNTAX_ERROR' }, `cannot analyse the statement: ${String(error)}`);
    }
  }
}

/** The engine's error names our `SELECT formatQuery(…)` wrapper; the client should see its own statement only. */
function withoutWrapper(error: ClickHouseError, sql: string): ClickHouseError {
  const message = error.message.replace(/\.?\s*:?\s*In scope SELECT formatQuery\([\s\S]*?\)\.?(?=\s*\([A-Z_]+\)\s*$|$)/, '');
  return new ClickHouseError(error.serverCode, error.serverName, message, sql, error);
}
