// Owns rendering rows for people and scripts: an aligned table sized to the terminal, JSON, CSV and TSV.

import { TelemetryError } from '../errors.js';

export const OUTPUT_FORMATS = ['table', 'json', 'csv', 'tsv'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** An aligned text table; columns are shrunk (longest first, ending in …) until the table fits `width`. */
export function renderTable(columns: string[], rows: unknown[][], width = 120): string {
  const text = rows.map((r) => r.map((v) => cell(v).replace(/\s+/g, ' ')));
  // reduce, not Math.max(...): a spread of 200k rows overflows the call stack.
  const widths = columns.map((c, i) => text.reduce((w, r) => Math.max(w, (r[i] ?? '').length), c.length));
  const gap = 2;
  const total = () => widths.reduce((a, b) => a + b, 0) + gap * (widths.length - 1);
  while (total() > width) {
    const widest = widths.indexOf(Math.max(...widths));
    if ((widths[widest] ?? 0) <= 8) break;
    widths[widest] = (widths[widest] ?? 0) - 1;
  }
  const fit = (s: string, w: number) => (s.length > w ? `${s.slice(0, Math.max(0, w - 1))}…` : s.padEnd(w));
  const line = (values: string[]) => values.map((v, i) => fit(v, widths[i] ?? 0)).join(' '.repeat(gap)).trimEnd();
  return [line(columns), line(widths.map((w) => '─'.repeat(w))), ...text.map(line)].join('\n');
}

function csvCell(value: unknown): string {
  const s = cell(value);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function tsvCell(value: unknown): string {
  return cell(value).replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n');
}

/** Rows (objects with the same keys) in one of the output formats. */
export function renderRows(rows: Array<Record<string, unknown>>, format: OutputFormat, width?: number, columns?: string[]): string {
  const cols = columns ?? Object.keys(rows[0] ?? {});
  switch (format) {
    case 'json':
      return JSON.stringify(rows, null, 2);
    case 'csv':
      return [cols.map(csvCell).join(','), ...rows.map((r) => cols.map((c) => csvCell(r[c])).join(','))].join('\n');
    case 'tsv':
      return [cols.join('\t'), ...rows.map((r) => cols.map((c) => tsvCell(r[c])).join('\t'))].join('\n');
    case 'table':
      return renderTable(cols, rows.map((r) => cols.map((c) => r[c])), width);
  }
}

/** A --format value checked against the formats a command offers. */
export function outputFormat(value: string | undefined, fallback: OutputFormat): OutputFormat {
  const format = value ?? fallback;
  if (!(OUTPUT_FORMATS as readonly string[]).includes(format)) {
    throw new TelemetryError('E_CONFIG', `--format ${JSON.stringify(format)} is not one of ${OUTPUT_FORMATS.join(', ')}`);
  }
  return format as OutputFormat;
}

/** The width tables fit: the terminal's, else 120. */
export function terminalWidth(stream: unknown): number {
  return (stream as { columns?: number }).columns ?? 120;
}
