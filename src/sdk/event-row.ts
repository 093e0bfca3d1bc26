// Owns the `traces` row of one event line as JSONEachRow text, written straight from the parsed line (no span object):
// the same columns and values the SDK's span path stores, at a fraction of its cost for `send --stdin`.

import { nodeCrypto } from './lazy-crypto.js';
import { EventLineError, type EventLine } from './event-line.js';
import type { ResourceInfo } from './event.js';
import { clampDuration, formatTimestamp } from '../transform/row.js';

/** What every row of a run shares: the resource (as the SDK's batches carry it), the scrubber, the user id. */
export interface RowContext {
  resource: ResourceInfo;
  /** Cleans attribute values as the row is written; absent when scrubbing is off. */
  scrub?: (text: string) => string;
  /** Added as the `user.id` attribute when the line does not set one (identify: 'anonymous'). */
  userId?: string;
}

// Random ids as hex text cut from one pool: one randomBytes call and one hex conversion per 512 spans.
const HEX_POOL_BYTES = 12_288;
let hexPool = '';
let hexOffset = 0;

function randomHex(chars: number): string {
  if (hexOffset + chars > hexPool.length) {
    hexPool = nodeCrypto().randomBytes(HEX_POOL_BYTES).toString('hex');
    hexOffset = 0;
  }
  const id = hexPool.slice(hexOffset, hexOffset + chars);
  hexOffset += chars;
  return id;
}

const ZERO_TRACE = '0'.repeat(32);
/** Strings that repeat from line to line (names, projects, attribute keys) are quoted once; the memo stays small. */
const QUOTED_MAX = 2048;

export class EventRowWriter {
  private readonly quoted = new Map<string, string>();
  /** The resource's row columns for a project, as `"service_name":…` text pieces. */
  private readonly projects = new Map<string, { service: string; tail: string }>();
  private second = Number.NaN;
  private secondText = '';

  constructor(private readonly context: RowContext) {}

  /**
   * The row of one line, newline included. Throws EventLineError for what the store would refuse (a zero trace id,
   * a time it cannot hold), so the line is reported with its number rather than lost inside a batch.
   */
  row(event: EventLine): string {
    const { options } = event;
    const startMs = startOf(options.timestamp);
    const traceId = options.traceId === undefined ? randomHex(32) : options.traceId.toLowerCase();
    if (traceId === ZERO_TRACE) throw new EventLineError('"trace_id" must not be all zeros');
    const project = this.project(options.projectName ?? this.context.resource.projectName);
    const error = options.status === 'error';
    // The span path keeps nanoseconds: start rounded to the microsecond, the duration to the nanosecond.
    const durationMs = clampDuration(Math.round((options.durationMs ?? 0) * 1_000_000) / 1_000_000);
    return (
      `{"trace_id":"${traceId}","span_id":"${randomHex(16)}","parent_span_id":"","timestamp":"${this.timestamp(startMs)}",` +
      `${project.service},"span_name":${this.quote(event.name)},"span_kind":"INTERNAL","status_code":"${error ? 'ERROR' : 'OK'}",` +
      `"status_message":"","duration_ms":${durationMs},${project.tail},"attributes":${this.attributes(event.attributes)}}\n`
    );
  }

  private attributes(attributes: EventLine['attributes']): string {
    const scrub = this.context.scrub;
    let out = '';
    let hasUser = false;
    for (const key in attributes) {
      const value = attributes[key];
      if (value === undefined || value === null) continue;
      const text = typeof value === 'string' ? value : String(value);
      if (key === 'user.id') hasUser = true;
      out += `${out === '' ? '' : ','}${this.quote(key)}:${JSON.stringify(scrub ? scrub(text) : text)}`;
    }
    const userId = this.context.userId;
    if (userId !== undefined && !hasUser) out += `${out === '' ? '' : ','}"user.id":${JSON.stringify(userId)}`;
    return `{${out}}`;
  }

  /** DateTime64(3) text; the 'YYYY-MM-DD hh:mm:ss' part is formatted once a second, as lines mostly come in order. */
  private timestamp(startMs: number): string {
    const ms = Math.floor(startMs);
    const second = Math.floor(ms / 1000);
    if (second !== this.second) {
      this.second = second;
      this.secondText = formatTimestamp(second * 1000).slice(0, 19);
    }
    const fraction = ms - second * 1000;
    return `${this.secondText}.${fraction < 10 ? '00' : fraction < 100 ? '0' : ''}${fraction}`;
  }

  private project(name: string): { service: string; tail: string } {
    let columns = this.projects.get(name);
    if (columns === undefined) {
      const { resource } = this.context;
      // As resourceAttributes() and the row transform give them: the client's project is its service, another names both.
      const service = name === resource.projectName ? resource.serviceName || 'unknown_service' : name;
      columns = {
        service: `"service_name":${JSON.stringify(service)}`,
        tail: `"project_name":${JSON.stringify(name)},"project_version":${JSON.stringify(resource.version)},"environment":${JSON.stringify(resource.environment)}`,
      };
      if (this.projects.size < QUOTED_MAX) this.projects.set(name, columns);
    }
    return columns;
  }

  private quote(text: string): string {
    let quoted = this.quoted.get(text);
    if (quoted === undefined) {
      quoted = JSON.stringify(text);
      if (text.length <= 128) {
        if (this.quoted.size >= QUOTED_MAX) this.quoted.clear();
        this.quoted.set(text, quoted);
      }
    }
    return quoted;
  }
}

/** The event's start in epoch milliseconds, refusing what DateTime64 in the store cannot hold. */
function startOf(timestamp: EventLine['options']['timestamp']): number {
  const ms = timestamp === undefined ? Date.now() : timestamp instanceof Date ? timestamp.getTime() : typeof timestamp === 'number' ? timestamp : Date.parse(timestamp);
  // The span path rounds to the microsecond: a start that rounds to 0 is a missing start to the store.
  if (!(Math.round(ms * 1000) > 0) || ms >= MAX_MS) throw new EventLineError(`"timestamp" must fall between 1970 and 2262, got ${JSON.stringify(timestamp)}`);
  return ms;
}

/** 2262-04-11, the latest time a nanosecond DateTime64 holds (the span path's limit). */
const MAX_MS = 9_223_372_036_854;
