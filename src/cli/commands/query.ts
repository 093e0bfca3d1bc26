// Owns `query`: one statement from an argument, a file or stdin, or the interactive prompt; rendered as a table, JSON, CSV or TSV.

import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ClickHouseError } from '../../clickhouse/errors.js';
import { runStatement } from '../../clickhouse/http-client.js';
import { TelemetryError } from '../../errors.js';
import { EXIT } from '../errors.js';
import { fileToRead } from '../files.js';
import { runRepl } from '../repl.js';
import { stackCommand, type Cli, type Stack } from '../stack.js';
import { splitStatements } from '../statements.js';
import { OUTPUT_FORMATS, outputFormat, renderRows, terminalWidth } from '../table.js';

const FORMAT_CLAUSE = /\bFORMAT\s+[A-Za-z0-9_]+\s*;?\s*$/i;

export function register(program: Command, cli: Cli): void {
  stackCommand(
    cli,
    program
      .command('query [sql]')
      .description('run SQL against the stack: one statement from the argument, -f file or stdin; an interactive prompt otherwise')
      .option('-f, --file <path>', 'read the SQL from a file')
      .option('--format <format>', `output: ${OUTPUT_FORMATS.join(', ')}`, 'table')
      .addHelpText(
        'after',
        `
One statement a run (the prompt takes several, each ending with ";").
Timing and row counts go to stderr; a statement with its own FORMAT clause is printed as the server sends it.
Server errors show ClickHouse's code and message and exit 1; a stopped stack exits 3.

Examples:
  $ automagik-telemetry query "SELECT project_name, count() FROM traces GROUP BY 1"
  $ automagik-telemetry query --format csv -f report.sql > report.csv
  $ echo "SELECT 1" | automagik-telemetry query
  $ automagik-telemetry query          # interactive; \\q to quit`,
      ),
    query,
  );
}

export async function query(stack: Stack, options: { file?: string; format: string }, sql?: string): Promise<number> {
  const { ui } = stack;
  const format = outputFormat(options.format, 'table');
  const connection = stack.connection('admin');
  const execute = async (statement: string): Promise<void> => {
    const started = performance.now();
    const own = FORMAT_CLAUSE.test(statement);
    const defaultFormat = own ? 'TabSeparated' : { table: 'JSON', json: 'JSON', csv: 'CSVWithNames', tsv: 'TSVWithNames' }[format];
    const body = await runStatement(connection, statement, { settings: { default_format: defaultFormat, output_format_json_quote_64bit_integers: 0 } });
    const ms = Math.round(performance.now() - started);
    if (own || format === 'csv' || format === 'tsv') {
      ui.io.stdout.write(body);
      ui.err(ui.ce.dim(`${ms} ms`));
      return;
    }
    if (body.trim() === '') {
      ui.err(ui.ce.dim(`OK, ${ms} ms`));
      return;
    }
    const result = parseJsonResult(body);
    const columns = result.meta.map((m) => m.name);
    ui.out(format === 'json' ? JSON.stringify(result.data, null, 2) : renderRows(result.data, 'table', terminalWidth(ui.io.stdout), columns));
    ui.err(ui.ce.dim(`${result.rows} row${result.rows === 1 ? '' : 's'} in ${ms} ms${result.statistics?.rows_read !== undefined ? `, ${result.statistics.rows_read} rows read` : ''}`));
  };

  if (sql !== undefined || options.file !== undefined || !ui.io.stdin?.isTTY) {
    const text =
      sql ??
      (options.file !== undefined
        ? await readFile(await fileToRead(options.file, 'the SQL to run, from -f', 'Give the path of a file that holds one SQL statement, or pass the SQL as an argument.'), 'utf8')
        : await readAll(ui.io.stdin ?? process.stdin));
    const statements = splitStatements(text);
    if (statements.length === 0) throw new TelemetryError('E_CONFIG', 'no SQL given: pass it as an argument, with -f <file>, or on stdin');
    if (statements.length > 1) {
      throw new TelemetryError('E_CONFIG', `query runs one statement at a time; this SQL holds ${statements.length} (separated by ";")`, {
        hint: 'Run them one by one, or type them at the interactive prompt (`automagik-telemetry query` in a terminal).',
      });
    }
    await execute(statements[0] as string);
    return EXIT.OK;
  }
  await runRepl({
    input: ui.io.stdin ?? process.stdin,
    output: ui.io.stderr,
    terminal: true,
    historyFile: join(stack.config.paths.runDir, 'query_history'),
    // Several statements on one line run one after the other; a failed one is shown and the prompt goes on.
    execute: async (text) => {
      for (const statement of splitStatements(text)) {
        await execute(statement).catch((error: unknown) => {
          if (error instanceof ClickHouseError || (error instanceof TelemetryError && error.code === 'E_CLICKHOUSE')) ui.err(ui.ce.red(error.message));
          else throw error;
        });
      }
    },
  });
  return EXIT.OK;
}

interface JsonResult {
  meta: Array<{ name: string }>;
  data: Array<Record<string, unknown>>;
  rows: number;
  statistics?: { rows_read?: number };
}

/** The server's JSON answer; anything else (two results, a truncated answer) is a clear error, not a parser's. */
function parseJsonResult(body: string): JsonResult {
  try {
    const result = JSON.parse(body) as JsonResult;
    if (Array.isArray(result.meta) && Array.isArray(result.data)) return result;
  } catch {
    // reported below
  }
  throw new TelemetryError('E_CLICKHOUSE', `the server's answer is not one JSON result (${body.length} bytes, starting ${JSON.stringify(body.slice(0, 60))})`, {
    hint: 'Run one statement at a time; add your own FORMAT clause to see the raw answer.',
  });
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
  return text;
}
