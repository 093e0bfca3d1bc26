// Owns reading containers' output: Docker's multiplexed log stream split into stdout/stderr frames, then into lines.

import type Docker from 'dockerode';
import type { LogOptions } from '../types.js';

export interface Frame {
  stream: 'stdout' | 'stderr';
  text: string;
}

/** Splits Docker's multiplexed log stream (8-byte headers: stream type, 3 zero bytes, big-endian length). */
export function demultiplex(buffer: Buffer): Frame[] {
  return demultiplexPartial(buffer).frames;
}

/** The whole frames at the start of `buffer`, and the bytes of a frame not complete yet. */
export function demultiplexPartial(buffer: Buffer): { frames: Frame[]; rest: Buffer } {
  const frames: Frame[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const type = buffer[offset];
    const length = buffer.readUInt32BE(offset + 4);
    if (offset + 8 + length > buffer.length) break;
    frames.push({ stream: type === 2 ? 'stderr' : 'stdout', text: buffer.subarray(offset + 8, offset + 8 + length).toString('utf8') });
    offset += 8 + length;
  }
  return { frames, rest: buffer.subarray(offset) };
}

/** Text in pieces to whole lines; the last, unfinished line is held until more text or the end. */
export function lineSplitter(onLine: (line: string) => void): (text: string, end: boolean) => void {
  let partial = '';
  return (text, end) => {
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) onLine(line.replace(/\r$/, ''));
    if (end && partial !== '') {
      onLine(partial);
      partial = '';
    }
  };
}

/** A container's output, line by line, labelled with its service: the last `tail` lines, then new ones with `follow`. */
export async function containerLogs(docker: Docker, id: string, service: string, options: LogOptions): Promise<void> {
  const container = docker.getContainer(id);
  const info = await container.inspect();
  const emitLines = lineSplitter((line) => options.onLine(line, service));
  if (!options.follow) {
    const raw = (await container.logs({ stdout: true, stderr: true, tail: options.tail, follow: false })) as unknown as Buffer;
    const text = info.Config.Tty ? raw.toString('utf8') : demultiplex(raw).map((f) => f.text).join('');
    emitLines(text, true);
    return;
  }
  const stream = (await container.logs({ stdout: true, stderr: true, tail: options.tail, follow: true })) as unknown as NodeJS.ReadableStream;
  await new Promise<void>((resolve, reject) => {
    let pending: Buffer = Buffer.alloc(0);
    stream.on('data', (chunk: Buffer) => {
      if (info.Config.Tty) return emitLines(chunk.toString('utf8'), false);
      pending = Buffer.concat([pending, chunk]);
      const { frames, rest } = demultiplexPartial(pending);
      pending = rest;
      emitLines(frames.map((f) => f.text).join(''), false);
    });
    stream.on('end', () => {
      emitLines('', true);
      resolve();
    });
    stream.on('error', reject);
  });
}

/** A container's last lines, indented, for an error's hint ("(no output)" when there are none or they cannot be read). */
export async function lastLogLines(docker: Docker, id: string, tail: number): Promise<string> {
  const lines: string[] = [];
  await containerLogs(docker, id, '', { service: undefined, follow: false, tail, onLine: (l) => lines.push(`  ${l}`) }).catch(() => undefined);
  return lines.join('\n') || '  (no output)';
}
