// Owns turning tracked events into spans of an OTLP request: ids, times, status, flattened attributes, one resource a project.

import { nodeCrypto } from './lazy-crypto.js';
import type { FlatAttributes, OtlpSpan, OtlpTraceRequest } from '../otlp/model.js';
import { STATUS_CODE_ERROR } from '../otlp/model.js';

export type AttributeValue = string | number | boolean | null | undefined | readonly unknown[] | Record<string, unknown>;
export type Attributes = Record<string, AttributeValue>;

export type EventStatus = 'ok' | 'error' | 'OK' | 'ERROR';

export interface TrackOptions {
  /** How long the event took; 0 by default. */
  durationMs?: number;
  status?: EventStatus;
  statusMessage?: string;
  /** When the event started: a Date, epoch milliseconds or an ISO string. Now by default. */
  timestamp?: Date | number | string;
  /** 32 hex characters, to tie events into one trace. Random by default. */
  traceId?: string;
  /** Overrides the client's projectName for this event. */
  projectName?: string;
}

/**
 * One event as the queue holds it: validated and flattened, nothing left to fail later. Its span (ids, nanosecond
 * times) is built when it is first sent, off the host's hot path, and kept, so a retried batch sends the same bytes.
 */
export interface QueuedEvent {
  /** The item's kind in the batch processor's queue (signal-items.ts holds the others). */
  signal: 'span';
  name: string;
  attributes: FlatAttributes;
  startMs: number;
  durationMs: number;
  error: boolean;
  statusMessage: string;
  traceId: string | undefined;
  projectName: string | undefined;
  /** trackError's exception.* attributes, recorded as the span's "exception" event too. */
  exception?: FlatAttributes;
  span?: OtlpSpan;
}

export interface ResourceInfo {
  projectName: string;
  version: string;
  environment: string;
  serviceName: string;
}

export const SCOPE_NAME = 'automagik-telemetry';

// Ids come from one pool of random bytes refilled 4 KiB at a time: a randomBytes call per id was a fifth of the
// CPU time of a bulk send.
const POOL_SIZE = 4096;
let pool: Buffer | undefined;
let poolOffset = POOL_SIZE;

/** `size` cryptographically random bytes: a view into the pool (no allocation of its own). */
export function randomId(size: number): Uint8Array {
  if (!pool || poolOffset + size > POOL_SIZE) {
    pool = nodeCrypto().randomBytes(POOL_SIZE);
    poolOffset = 0;
  }
  const id = pool.subarray(poolOffset, poolOffset + size);
  poolOffset += size;
  return id;
}

export function flattenAttributes(attributes: Attributes | undefined): FlatAttributes {
  const out: FlatAttributes = {};
  if (!attributes) return out;
  // for-in over own keys rather than Object.entries: no array of pairs per event on the host's code path.
  for (const key in attributes) {
    if (!Object.hasOwn(attributes, key)) continue;
    const value = attributes[key];
    if (value === undefined || value === null) continue;
    out[key] = typeof value === 'string' ? value : typeof value === 'object' ? safeJson(value) : String(value);
  }
  return out;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    return String(value);
  }
}

/** Epoch milliseconds from the accepted timestamp forms; NaN when unreadable. */
export function toEpochMs(value: Date | number | string | undefined, now: number): number {
  if (value === undefined) return now;
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'number') return value;
  return Date.parse(value);
}

/** Builds the queued form of an event. Throws a plain Error with the reason when an argument is unusable. */
export function makeEvent(name: string, attributes: Attributes | undefined, options: TrackOptions = {}, now = Date.now()): QueuedEvent {
  const { startMs, durationMs, error } = checkEvent(name, options, now);
  return {
    signal: 'span',
    name,
    attributes: attributes ? flattenAttributes(attributes) : {},
    startMs,
    durationMs,
    error,
    statusMessage: options.statusMessage ?? '',
    traceId: options.traceId,
    projectName: options.projectName,
  };
}

/** Validates an event's name and options (a plain Error with the reason) and returns its start, duration and status. */
export function checkEvent(name: string, options: TrackOptions, now: number): { startMs: number; durationMs: number; error: boolean } {
  if (typeof name !== 'string' || name === '') throw new Error('event name must be a non-empty string');
  const startMs = toEpochMs(options.timestamp, now);
  if (!Number.isFinite(startMs)) throw new Error(`timestamp ${JSON.stringify(options.timestamp)} is not a date`);
  const durationMs = options.durationMs ?? 0;
  if (typeof durationMs !== 'number' || !Number.isFinite(durationMs) || durationMs < 0) throw new Error(`durationMs must be a number >= 0, got ${JSON.stringify(durationMs)}`);
  if (options.traceId !== undefined && !/^[0-9a-fA-F]{32}$/.test(options.traceId)) throw new Error(`traceId must be 32 hex characters, got ${JSON.stringify(options.traceId)}`);
  const status = options.status === undefined ? 'ok' : options.status.toLowerCase();
  if (status !== 'ok' && status !== 'error') throw new Error(`status must be 'ok' or 'error', got ${JSON.stringify(options.status)}`);
  return { startMs, durationMs, error: status === 'error' };
}

/**
 * The event's span, built on first use and kept (ids stay the same across retries and the spool). `scrub` cleans
 * attribute values and the status message as the span is built, so what is kept, spooled or sent is already clean.
 */
export function spanOf(event: QueuedEvent, scrub?: (text: string) => string): OtlpSpan {
  if (event.span) return event.span;
  if (scrub) {
    for (const key in event.attributes) event.attributes[key] = scrub(event.attributes[key] as string);
    event.statusMessage = scrub(event.statusMessage);
    if (event.exception) for (const key in event.exception) event.exception[key] = scrub(event.exception[key] as string);
  }
  const startNs = BigInt(Math.round(event.startMs * 1000)) * 1000n;
  event.span = {
    traceId: event.traceId ? Buffer.from(event.traceId, 'hex') : randomId(16),
    spanId: randomId(8),
    parentSpanId: new Uint8Array(),
    name: event.name,
    kind: 1,
    startTimeUnixNano: startNs,
    endTimeUnixNano: startNs + BigInt(Math.round(event.durationMs * 1_000_000)),
    attributes: event.attributes,
    status: { code: event.error ? STATUS_CODE_ERROR : 0, message: event.statusMessage },
  };
  // OpenTelemetry records an exception as a span event named "exception" (semantic conventions).
  if (event.exception) event.span.events = [{ timeUnixNano: startNs, name: 'exception', attributes: event.exception }];
  return event.span;
}

/** One OTLP request for a batch: a resource per project, the SDK as the instrumentation scope. */
export function buildRequest(events: readonly QueuedEvent[], resource: ResourceInfo, sdkVersion: string): OtlpTraceRequest {
  const byProject = new Map<string, OtlpSpan[]>();
  for (const event of events) {
    const project = event.projectName ?? resource.projectName;
    let spans = byProject.get(project);
    if (!spans) byProject.set(project, (spans = []));
    spans.push(spanOf(event));
  }
  return {
    resourceSpans: [...byProject].map(([project, spans]) => ({
      resource: resourceAttributes(project, resource),
      scopeSpans: [{ scopeName: SCOPE_NAME, scopeVersion: sdkVersion, spans }],
    })),
  };
}

/** The resource of one project's items (every signal): service, project, version and environment. */
export function resourceAttributes(project: string, resource: ResourceInfo): FlatAttributes {
  return {
    'service.name': project === resource.projectName ? resource.serviceName : project,
    'project.name': project,
    ...(resource.version ? { 'project.version': resource.version } : {}),
    ...(resource.environment ? { 'deployment.environment.name': resource.environment } : {}),
  };
}
