// Owns recognising `INSERT INTO t [(cols)] [SETTINGS …] FORMAT F` statements whose data travels separately.

export interface InsertStatement {
  /** db.table or table, without quotes. */
  table: string;
  columns: string[] | undefined;
  format: string;
  settings: Record<string, string>;
}

const IDENT = String.raw`(?:[A-Za-z_][A-Za-z0-9_]*|\x60[A-Za-z_][A-Za-z0-9_]*\x60)`;
const INSERT = new RegExp(
  String.raw`^\s*INSERT\s+INTO\s+(?:TABLE\s+)?(${IDENT}(?:\.${IDENT})?)\s*(?:\(([^)]*)\))?\s*(?:SETTINGS\s+([\s\S]+?)\s+)?FORMAT\s+([A-Za-z0-9_]+)\s*;?\s*$`,
  'i',
);

/** Parses an INSERT whose rows come in the request body; undefined for anything else. */
export function parseInsert(sql: string): InsertStatement | undefined {
  const match = INSERT.exec(sql);
  if (!match) return undefined;
  const [, table = '', columns, settings, format = ''] = match;
  const unquote = (s: string): string => s.trim().replace(/^`|`$/g, '');
  const columnList = columns?.split(',').map(unquote).filter((c) => c !== '');
  if (columnList?.some((c) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(c))) return undefined;
  return {
    table: table.split('.').map(unquote).join('.'),
    columns: columnList,
    format,
    settings: settings ? parseSettingsClause(settings) : {},
  };
}

function parseSettingsClause(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*=\s*('(?:[^'\\]|\\.)*'|[^,\s]+)/g)) {
    const value = m[2] ?? '';
    out[m[1] ?? ''] = value.startsWith("'") ? value.slice(1, -1).replace(/\\(.)/g, '$1') : value;
  }
  return out;
}
