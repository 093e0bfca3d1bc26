// Owns the receiver's fast path for logs: a protobuf ExportLogsServiceRequest straight to `logs` JSONEachRow text, with
// the columns logs.ts gives. A record the transform would refuse, a body or attribute that is not a scalar, or bytes
// that are not a request throw WireMismatch, and the caller takes the full path.

import { WireMismatch, type WireReader } from '../otlp/wire.js';
import { severityText } from './logs.js';
import type { WireRows } from './traces-wire.js';
import { anyValueText, attributesText, eachItem, keyValue, lastKey, lastValue, nanosText, setAttribute, startAttributes, type ResourceText } from './wire-rows.js';

const json = JSON.stringify;

/** Every log record of the request as a `logs` row; throws WireMismatch when the full path must decide. */
export function logsRequestToRows(body: Buffer, now: () => number = Date.now): WireRows {
  const out: string[] = [];
  eachItem(body, (reader, resource, scopeName) => out.push(logRecord(reader, resource, json(scopeName), now)));
  return { data: Buffer.from(out.join('')), rows: out.length };
}

const RECORD_FIELDS = new Set([1, 2, 3, 5, 6, 9, 10, 11, 12]);

function logRecord(reader: WireReader, resource: ResourceText, scope: string, now: () => number): string {
  const buf = reader.buf;
  let timeLo = 0;
  let timeHi = 0;
  let observedLo = 0;
  let observedHi = 0;
  let severity = 0;
  let severityName = '';
  let body = '';
  let traceId = '';
  let spanId = '';
  let eventName = '';
  let ownProject = '';
  startAttributes(resource);
  for (let tag = reader.tag(); tag !== -1; tag = reader.tag()) {
    switch (tag) {
      case (1 << 3) | 1:
        reader.fixed64();
        timeLo = reader.lo;
        timeHi = reader.hi;
        break;
      case (11 << 3) | 1:
        reader.fixed64();
        observedLo = reader.lo;
        observedHi = reader.hi;
        break;
      case (2 << 3) | 0:
        severity = reader.varint32();
        break;
      case (3 << 3) | 2:
        severityName = reader.string();
        break;
      case (5 << 3) | 2: {
        const outer = reader.enter();
        body = anyValueText(reader);
        reader.leave(outer);
        break;
      }
      case (6 << 3) | 2:
        keyValue(reader);
        setAttribute(lastKey, lastValue);
        if (lastKey === 'project.name') ownProject = lastValue;
        break;
      case (9 << 3) | 2:
      case (10 << 3) | 2: {
        const end = reader.bytesEnd();
        const size = end - reader.pos;
        const isTrace = tag >>> 3 === 9;
        if (size !== 0 && size !== (isTrace ? 16 : 8)) throw new WireMismatch('log record id length');
        let zero = true;
        for (let i = reader.pos; i < end; i++) if (buf[i] !== 0) zero = false;
        const hex = zero ? '' : buf.toString('hex', reader.pos, end);
        if (isTrace) traceId = hex;
        else spanId = hex;
        reader.pos = end;
        break;
      }
      case (12 << 3) | 2:
        eventName = reader.string();
        break;
      default:
        if (RECORD_FIELDS.has(tag >>> 3)) throw new WireMismatch(`log record field ${tag >>> 3} with wire type ${tag & 7}`);
        reader.skip(tag & 7);
    }
  }
  if (severity > 24) throw new WireMismatch('severity_number out of range');
  if (timeHi >= 0x80000000 || observedHi >= 0x80000000) throw new WireMismatch('time after 2262');
  if (eventName !== '') setAttribute('event.name', eventName);
  // The spec: a record without a time is placed at the time it was observed (or received).
  if (observedLo === 0 && observedHi === 0) {
    if (timeLo !== 0 || timeHi !== 0) {
      observedLo = timeLo;
      observedHi = timeHi;
    } else {
      const ms = now();
      const nanos = BigInt(ms) * 1_000_000n;
      observedLo = Number(nanos & 0xffffffffn);
      observedHi = Number(nanos >> 32n);
    }
  }
  if (timeLo === 0 && timeHi === 0) {
    timeLo = observedLo;
    timeHi = observedHi;
  }
  const project = resource.columns.project_name || ownProject || resource.columns.service_name;
  return (
    `{"timestamp":"${nanosText(timeLo, timeHi)}","observed_timestamp":"${nanosText(observedLo, observedHi)}",` +
    `"trace_id":"${traceId}","span_id":"${spanId}","severity_text":${json(severityName || severityText(severity))},` +
    `"severity_number":${severity},"body":${json(body)},"service_name":${resource.service},"project_name":${json(project)},` +
    `"project_version":${resource.version},"environment":${resource.environment},"attributes":${attributesText()},"scope_name":${scope}}\n`
  );
}
