// Owns splitting a stream of JSON lines by "type": event lines flow on (to the SDK's bulk sender) and logs and metrics
// go to a SignalSender; each taken line is replaced by a blank one so line numbers downstream stay the same.

import { RecordError } from './records.js';
import { parseTypedLine } from './lines.js';
import type { SignalSender } from './sender.js';


export interface RouteCounts {
  /** Log and metric lines read. */
  read: number;
  /** Log and metric lines refused as malformed. */
  rejected: number;
}

export interface RouteOptions {
  /** Called for every bad log or metric line, with its 1-based number. */
  onReject: (line: number, reason: string) => void;
  /** Stop at the first bad line. */
  strict?: boolean;
  /** Lines longer than this are handed on untouched (the event reader reports and skips them). */
  maxLineBytes: number;
}

/**
 * Reads `source` and yields text for the event reader. Lines without a "type" field pass as they are (the fast path
 * for plain event streams). Awaiting the sender when its batch is full pauses the reading: that is the backpressure.
 */
export async function* routeLines(source: AsyncIterable<Buffer | string>, sender: SignalSender, counts: RouteCounts, options: RouteOptions): AsyncGenerator<string> {
  let partial = '';
  let lineNumber = 0;
  let passing = false;
  for await (const chunk of source) {
    const text = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    if (passing) {
      // Inside an over-long line: hand it on until its end.
      const end = text.indexOf('\n');
      if (end === -1) {
        yield text;
        continue;
      }
      passing = false;
      lineNumber++;
      yield text.slice(0, end + 1);
      partial = text.slice(end + 1);
    } else {
      partial += text;
    }
    // The fast path for plain event streams: a stretch with no "type" anywhere is handed on whole, lines counted.
    if (!partial.includes('"type"')) {
      const end = partial.lastIndexOf('\n');
      if (end !== -1) {
        for (let at = partial.indexOf('\n'); at !== -1 && at <= end; at = partial.indexOf('\n', at + 1)) lineNumber++;
        const out = partial.slice(0, end + 1);
        partial = partial.slice(end + 1);
        yield out;
      }
      if (partial.length > options.maxLineBytes) {
        yield partial;
        partial = '';
        passing = true;
      }
      continue;
    }
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    let out = '';
    for (const line of lines) {
      lineNumber++;
      const handled = await route(line, lineNumber, sender, counts, options);
      if (handled === undefined) {
        if (out !== '') yield out;
        return;
      }
      out += `${handled}\n`;
    }
    if (partial.length > options.maxLineBytes) {
      out += partial;
      partial = '';
      passing = true;
    }
    if (out !== '') yield out;
  }
  if (partial !== '') {
    lineNumber++;
    const handled = await route(partial, lineNumber, sender, counts, options);
    if (handled) yield handled;
  }
}

/** The text to hand on for one line ('' when taken here), or undefined to stop (strict mode, bad line). */
async function route(line: string, lineNumber: number, sender: SignalSender, counts: RouteCounts, options: RouteOptions): Promise<string | undefined> {
  if (!line.includes('"type"')) return line;
  try {
    const typed = parseTypedLine(line.endsWith('\r') ? line.slice(0, -1) : line);
    if (typed.type === 'event') return typed.text;
    counts.read++;
    if (typed.type === 'log') await sender.addLog(typed.record, typed.project);
    else await sender.addMetric(typed.metric, typed.project);
    return '';
  } catch (error) {
    if (!(error instanceof RecordError)) throw error;
    counts.read++;
    counts.rejected++;
    options.onReject(lineNumber, error.message);
    return options.strict ? undefined : '';
  }
}
