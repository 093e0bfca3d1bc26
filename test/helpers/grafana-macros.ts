/**
 * Expands a panel query the way Grafana and its ClickHouse datasource do before sending it: dashboard variables
 * formatted with :singlequote ('a','b') or plain (${name}: the first value), and the plugin's macros $__timeFilter(col) -> col >= toDateTime(from) AND
 * col <= toDateTime(to), $__timeInterval(col) -> toStartOfInterval(toDateTime(col), INTERVAL n second).
 */
export function expandGrafana(sql: string, options: { from: Date; to: Date; intervalSeconds: number; variables: Record<string, string[]> }): string {
  const from = Math.floor(options.from.getTime() / 1000);
  const to = Math.floor(options.to.getTime() / 1000);
  return sql
    .replace(/\$\{(\w+):singlequote\}/g, (_, name: string) => (options.variables[name] ?? []).map((v) => `'${v.replace(/'/g, "\\'")}'`).join(','))
    .replace(/\$\{(\w+)\}/g, (_, name: string) => (options.variables[name] ?? [''])[0] ?? '')
    .replace(/\$__timeFilter\((\w+)\)/g, (_, col: string) => `${col} >= toDateTime(${from}) AND ${col} <= toDateTime(${to})`)
    .replace(/\$__timeInterval\((\w+)\)/g, (_, col: string) => `toStartOfInterval(toDateTime(${col}), INTERVAL ${options.intervalSeconds} second)`)
    .replace(/\$__fromTime/g, `toDateTime(${from})`)
    .replace(/\$__toTime/g, `toDateTime(${to})`);
}
