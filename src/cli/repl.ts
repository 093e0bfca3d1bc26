// Owns the interactive SQL prompt: statements may span lines until ';', history is kept, \q leaves.

import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';

export interface ReplOptions {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /** Runs one statement (without its final ';'); failures are its to report. */
  execute: (sql: string) => Promise<void>;
  historyFile?: string;
  /** Whether input is a terminal (prompts, line editing and history). */
  terminal: boolean;
}

const PROMPT = 'telemetry> ';
const MORE = '        -> ';

export async function runRepl(options: ReplOptions): Promise<void> {
  const history = options.historyFile
    ? (await readFile(options.historyFile, 'utf8').catch(() => '')).split('\n').filter(Boolean).reverse().slice(0, 1000)
    : [];
  const rl = createInterface({ input: options.input, output: options.output, terminal: options.terminal, history, historySize: 1000, prompt: PROMPT });
  if (options.terminal) options.output.write('Type SQL ending with ";" (it may span lines). \\q to quit.\n');
  let buffer: string[] = [];
  rl.prompt();
  for await (const line of rl) {
    const trimmed = line.trim();
    if (buffer.length === 0 && ['\\q', 'quit', 'exit', '\\quit'].includes(trimmed.replace(/;$/, ''))) break;
    if (trimmed !== '') buffer.push(line);
    const text = buffer.join('\n').trim();
    if (text.endsWith(';')) {
      const sql = text.replace(/;\s*$/, '').trim();
      buffer = [];
      if (sql !== '') {
        if (options.historyFile) {
          await mkdir(dirname(options.historyFile), { recursive: true });
          await appendFile(options.historyFile, `${sql.replace(/\n/g, ' ')}\n`, { mode: 0o600 });
        }
        rl.pause();
        await options.execute(sql);
        rl.resume();
      }
    }
    rl.setPrompt(buffer.length > 0 ? MORE : PROMPT);
    rl.prompt();
  }
  const left = buffer.join('\n').trim();
  if (left !== '') await options.execute(left.replace(/;\s*$/, ''));
  rl.close();
}
