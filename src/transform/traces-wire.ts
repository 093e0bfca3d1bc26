// Owns the receiver's fast path for traces: a protobuf ExportTraceServiceRequest straight to `traces` JSONEachRow text,
// with the columns otlp-to-rows.ts gives, and no message object per span. Anything unusual (a span the transform
// would refuse, an array or map attribute, bytes that are not a request) throws WireMismatch, and the caller takes the
// full path, which says precisely what is wrong.

import { SPAN_KIND_NAMES, STATUS_CODE_ERROR, type FlatAttributes } from '../otlp/model.js';
import { WireMismatch, type WireReader, nanosDiff, nanosToMillis } from '../otlp/wire.js';
import { clampDuration } from './row.js';
import { attributesText, eachItem, keyValue, lastKey, lastValue, nanosText, setAttribute, startAttributes, timestampText, type ResourceText } from './wire-rows.js';

export interface WireRows {
  /** JSONEachRow text, one line a row. */
  data: Buffer;
  rows: number;
}

const json = JSON.stringify;

/** Every span of the request as a `traces` row; throws WireMismatch when the full path must decide. */
export function traceRequestToRows(body: Buffer): WireRows {
  const out: string[] = [];
  eachItem(body, (reader, resource) => out.push(span(reader, resource)));
  return { data: Buffer.from(out.join('')), rows: out.length };
}

const SPAN_FIELDS = new Set([1, 2, 4, 5, 6, 7, 8, 9, 11, 13, 15]);

function span(reader: WireReader, resource: ResourceText): string {
  const buf = reader.buf;
  let traceId = '';
  let spanId = '';
  let parentSpanId = '';
  let name = '';
  let kind = 0;
  let startLo = 0;
  let startHi = 0;
  let endLo = 0;
  let endHi = 0;
  let statusCode = 0;
  let statusMessage = '';
  let ownProject = '';
  let events: Array<{ time: string; name: string; attributes: FlatAttributes }> | undefined;
  let links: Array<{ traceId: string; spanId: string; attributes: FlatAttributes }> | undefined;
  startAttributes(resource);
  for (let tag = reader.tag(); tag !== -1; tag = reader.tag()) {
    switch (tag) {
      case (1 << 3) | 2:
        traceId = id(reader, 16);
        break;
      case (2 << 3) | 2:
        spanId = id(reader, 8);
        break;
      case (4 << 3) | 2: {
        const end = reader.bytesEnd();
        if (end - reader.pos !== 0 && end - reader.pos !== 8) throw new WireMismatch('parent_span_id length');
        parentSpanId = buf.toString('hex', reader.pos, end);
        reader.pos = end;
        break;
      }
      case (5 << 3) | 2:
        name = reader.string();
        break;
      case (6 << 3) | 0:
        kind = reader.varint32();
        break;
      case (7 << 3) | 1:
        reader.fixed64();
        startLo = reader.lo;
        startHi = reader.hi;
        break;
      case (8 << 3) | 1:
        reader.fixed64();
        endLo = reader.lo;
        endHi = reader.hi;
        break;
      case (9 << 3) | 2:
        keyValue(reader);
        setAttribute(lastKey, lastValue);
        if (lastKey === 'project.name') ownProject = lastValue;
        break;
      case (11 << 3) | 2:
        (events ??= []).push(event(reader));
        break;
      case (13 << 3) | 2:
        (links ??= []).push(link(reader));
        break;
      case (15 << 3) | 2: {
        const outer = reader.enter();
        for (let t = reader.tag(); t !== -1; t = reader.tag()) {
          if (t === ((2 << 3) | 2)) statusMessage = reader.string();
          else if (t === ((3 << 3) | 0)) statusCode = reader.varint32();
          else reader.skip(t & 7);
        }
        reader.leave(outer);
        break;
      }
      default:
        if (SPAN_FIELDS.has(tag >>> 3)) throw new WireMismatch(`span field ${tag >>> 3} with wire type ${tag & 7}`);
        reader.skip(tag & 7);
    }
  }
  if (traceId === '' || spanId === '') throw new WireMismatch('missing id');
  if (startLo === 0 && startHi === 0) throw new WireMismatch('start_time_unix_nano is missing');
  const hasEnd = endLo !== 0 || endHi !== 0;
  if (hasEnd && (endHi < startHi || (endHi === startHi && endLo < startLo))) throw new WireMismatch('end before start');
  const durationMs = hasEnd ? clampDuration(nanosDiff(endLo, endHi, startLo, startHi) / 1e6) : 0;
  let row = spanRowText(traceId, spanId, parentSpanId, nanosToMillis(startLo, startHi), name, kind, statusCode, statusMessage, durationMs, resource, ownProject);
  if (events) {
    row +=
      `,"events.timestamp":${json(events.map((e) => e.time))},"events.name":${json(events.map((e) => e.name))}` +
      `,"events.attributes":${json(events.map((e) => e.attributes))}`;
  }
  if (links) {
    row +=
      `,"links.trace_id":${json(links.map((l) => l.traceId))},"links.span_id":${json(links.map((l) => l.spanId))}` +
      `,"links.attributes":${json(links.map((l) => l.attributes))}`;
  }
  return `${row}}\n`;
}

/**
 * The columns every span row has, as JSON text without the closing brace (the span's attributes are the ones
 * wire-rows.ts holds); `ownProject` is the span's own project.name attribute, or ''.
 */
export function spanRowText(
  traceId: string, spanId: string, parentSpanId: string, startMs: number, name: string, kind: number, statusCode: number,
  statusMessage: string, durationMs: number, resource: ResourceText, ownProject: string,
): string {
  const project = resource.columns.project_name || ownProject || resource.columns.service_name;
  return (
    `{"trace_id":"${traceId}","span_id":"${spanId}","parent_span_id":"${parentSpanId}",` +
    `"timestamp":"${timestampText(startMs)}","service_name":${resource.service},"span_name":${json(name)},` +
    `"span_kind":"${SPAN_KIND_NAMES[kind] ?? 'UNSPECIFIED'}","status_code":"${statusCode === STATUS_CODE_ERROR ? 'ERROR' : 'OK'}",` +
    `"status_message":${json(statusMessage)},"duration_ms":${durationMs},"project_name":${json(project)},` +
    `"project_version":${resource.version},"environment":${resource.environment},"attributes":${attributesText()}`
  );
}

/** A trace or span id of `size` bytes, not all zero, as hex. */
function id(reader: WireReader, size: number): string {
  const end = reader.bytesEnd();
  if (end - reader.pos !== size) throw new WireMismatch('id length');
  let zero = true;
  for (let i = reader.pos; i < end; i++) if (reader.buf[i] !== 0) zero = false;
  if (zero) throw new WireMismatch('id is zero');
  const hex = reader.buf.toString('hex', reader.pos, end);
  reader.pos = end;
  return hex;
}

function event(reader: WireReader): { time: string; name: string; attributes: FlatAttributes } {
  const outer = reader.enter();
  let lo = 0;
  let hi = 0;
  let name = '';
  const attributes = Object.create(null) as FlatAttributes;
  for (let tag = reader.tag(); tag !== -1; tag = reader.tag()) {
    if (tag === ((1 << 3) | 1)) {
      reader.fixed64();
      lo = reader.lo;
      hi = reader.hi;
    } else if (tag === ((2 << 3) | 2)) name = reader.string();
    else if (tag === ((3 << 3) | 2)) {
      keyValue(reader);
      attributes[lastKey] = lastValue;
    } else reader.skip(tag & 7);
  }
  reader.leave(outer);
  if (hi >= 0x80000000) throw new WireMismatch('event time after 2262');
  return { time: nanosText(lo, hi), name, attributes };
}

function link(reader: WireReader): { traceId: string; spanId: string; attributes: FlatAttributes } {
  const outer = reader.enter();
  let traceId: string | undefined;
  let spanId: string | undefined;
  const attributes = Object.create(null) as FlatAttributes;
  for (let tag = reader.tag(); tag !== -1; tag = reader.tag()) {
    if (tag === ((1 << 3) | 2) || tag === ((2 << 3) | 2)) {
      const end = reader.bytesEnd();
      const hex = reader.buf.toString('hex', reader.pos, end);
      if (tag >>> 3 === 1) traceId = end - reader.pos === 16 ? hex : undefined;
      else spanId = end - reader.pos === 8 ? hex : undefined;
      reader.pos = end;
    } else if (tag === ((4 << 3) | 2)) {
      keyValue(reader);
      attributes[lastKey] = lastValue;
    } else reader.skip(tag & 7);
  }
  reader.leave(outer);
  if (traceId === undefined || spanId === undefined) throw new WireMismatch('link ids');
  return { traceId, spanId, attributes };
}

