// Owns splitting SQL text into statements at the semicolons outside quotes and comments (what `query` checks before sending).

/** The statements in `sql`, trimmed, without their final ';'; statements that are only comments or blanks are left out. */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let start = 0;
  let meaningful = false;
  let i = 0;
  const push = (end: number) => {
    if (meaningful) out.push(sql.slice(start, end).trim());
    start = end + 1;
    meaningful = false;
  };
  while (i < sql.length) {
    const ch = sql[i] as string;
    const next = sql[i + 1];
    if (ch === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? sql.length : end + 1;
    } else if (ch === '/' && next === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end === -1 ? sql.length : end + 2;
    } else if (ch === "'" || ch === '"' || ch === '`') {
      meaningful = true;
      i++;
      while (i < sql.length && sql[i] !== ch) i += sql[i] === '\\' ? 2 : 1;
      i++;
    } else if (ch === ';') {
      push(i);
      i++;
    } else {
      if (!/\s/.test(ch)) meaningful = true;
      i++;
    }
  }
  push(sql.length);
  return out;
}
