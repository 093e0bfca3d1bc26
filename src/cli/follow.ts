// Owns `--follow` output for the query commands: the recent rows oldest first, then each new one as a line, until
// Ctrl-C or SIGTERM.

import { renderRows, type OutputFormat } from './table.js';
import type { Ui } from './ui.js';

/**
 * Prints `recent` (newest first, as queried) oldest first, then hands `follow` a signal and the printer for the rows
 * that arrive; a row is a JSON line (json), `tableLine` (table), or one rendered row (csv, tsv).
 */
export async function printThenFollow<T>(
  ui: Ui,
  format: OutputFormat,
  recent: readonly T[],
  tableLine: (row: T) => string,
  follow: (signal: AbortSignal, onRows: (rows: T[]) => void) => Promise<void>,
): Promise<void> {
  const print = (list: readonly T[]) => {
    for (const row of list) {
      if (format === 'json') ui.out(JSON.stringify(row));
      else if (format === 'table') ui.out(tableLine(row));
      else ui.out(renderRows([row as unknown as Record<string, unknown>], format).split('\n')[1] ?? '');
    }
  };
  print([...recent].reverse());
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await follow(abort.signal, print);
}
