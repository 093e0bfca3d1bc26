// Owns putting one chDB session in the state a statement asked for (current database, settings) just before it runs.

import { toClickHouseError } from '../../clickhouse/errors.js';
import type { loadChdb } from './chdb.js';

export type ChdbSession = InstanceType<Awaited<ReturnType<typeof loadChdb>>['Session']>;

const DEFAULT_DATABASE = 'default';

/** Engine arguments of every session: clickhouse-server's defaults where chDB's differ, so clients see the same JSON. */
export const CHDB_CONNECTION_ARGS: readonly string[] = ['--output_format_json_quote_64bit_integers=1'];

/**
 * `SET` and `USE` change a chDB session for everything after them, so each session remembers what it was last put
 * in and changes only what differs from what the next statement wants.
 */
export class SessionState {
  private currentDatabase = DEFAULT_DATABASE;
  private readonly activeSettings = new Map<string, string>();

  constructor(readonly session: ChdbSession) {}

  async prepare(database: string | undefined, settings: Record<string, string> | undefined): Promise<void> {
    const wanted = database && database !== '' ? database : DEFAULT_DATABASE;
    if (wanted !== this.currentDatabase) {
      await this.exec(`USE ${quoteIdentifier(wanted)}`);
      this.currentDatabase = wanted;
    }
    const want = settings ?? {};
    for (const name of [...this.activeSettings.keys()]) {
      if (!(name in want)) {
        await this.exec(`SET ${name} = DEFAULT`);
        this.activeSettings.delete(name);
      }
    }
    for (const [name, value] of Object.entries(want)) {
      if (this.activeSettings.get(name) === value) continue;
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
        throw toClickHouseError(new Error(`Code: 115. DB::Exception: Unknown setting '${name}'. (UNKNOWN_SETTING)`));
      }
      await this.exec(`SET ${name} = ${quoteString(value)}`);
      this.activeSettings.set(name, value);
    }
  }

  private async exec(sql: string): Promise<void> {
    try {
      await this.session.queryAsync(sql, { format: 'TabSeparated' });
    } catch (error) {
      throw toClickHouseError(error, sql);
    }
  }
}

export function quoteIdentifier(name: string): string {
  return `\`${name.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``;
}

export function quoteString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
