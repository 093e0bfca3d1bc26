// Owns what the receiver's fast decoders share: reading KeyValues and the resource, the merged attribute set written
// as JSON text, and time columns formatted from 64-bit halves, each as the full path (otlp/read.ts, transform/) does.

import type { FlatAttributes } from '../otlp/model.js';
import { WireMismatch, WireReader, int64Text, nanosToMillis } from '../otlp/wire.js';
import { resourceColumns, type ResourceColumns } from './resource.js';
import { formatTimestamp } from './row.js';

const json = JSON.stringify;

/** A resource's columns, with the JSON text of the ones every row repeats. */
export interface ResourceText {
  columns: ResourceColumns;
  service: string;
  version: string;
  environment: string;
  restKeys: string[];
  restValues: string[];
}

/**
 * Walks an export request (field 1: the resource groups) and calls `item` for every item (field 2 of each scope
 * group, field 2 of the resource group), with its resource and the scope's name; the reader is entered into the item.
 * The resource, and the scope, may come after the items on the wire, so items are read once both are known.
 */
export function eachItem(body: Buffer, item: (reader: WireReader, resource: ResourceText, scopeName: string) => void): void {
  const reader = new WireReader(body, 0, body.length);
  for (let tag = reader.tag(); tag !== -1; tag = reader.tag()) {
    if (tag !== ((1 << 3) | 2)) {
      reader.skip(tag & 7);
      continue;
    }
    const requestEnd = reader.enter();
    let resource = Object.create(null) as FlatAttributes;
    const scopes: number[] = [];
    for (let t = reader.tag(); t !== -1; t = reader.tag()) {
      if (t === ((1 << 3) | 2)) {
        const outer = reader.enter();
        resource = readResource(reader);
        reader.leave(outer);
      } else if (t === ((2 << 3) | 2)) {
        const end = reader.bytesEnd();
        scopes.push(reader.pos, end);
        reader.pos = end;
      } else reader.skip(t & 7);
    }
    const text = resourceText(resource);
    const groupEnd = reader.end;
    for (let i = 0; i < scopes.length; i += 2) {
      const start = scopes[i] as number;
      reader.end = scopes[i + 1] as number;
      // First the scope's name, then its items.
      let scopeName = '';
      reader.pos = start;
      for (let t = reader.tag(); t !== -1; t = reader.tag()) {
        if (t === ((1 << 3) | 2)) {
          const outer = reader.enter();
          for (let f = reader.tag(); f !== -1; f = reader.tag()) {
            if (f === ((1 << 3) | 2)) scopeName = reader.string();
            else reader.skip(f & 7);
          }
          reader.leave(outer);
        } else reader.skip(t & 7);
      }
      reader.pos = start;
      for (let t = reader.tag(); t !== -1; t = reader.tag()) {
        if (t === ((2 << 3) | 2)) {
          const outer = reader.enter();
          item(reader, text, scopeName);
          reader.leave(outer);
        } else reader.skip(t & 7);
      }
    }
    reader.end = groupEnd;
    reader.leave(requestEnd);
  }
}

/** Reads a Resource message (the reader entered into it). */
export function readResource(reader: WireReader): FlatAttributes {
  const resource = Object.create(null) as FlatAttributes;
  for (let t = reader.tag(); t !== -1; t = reader.tag()) {
    if (t === ((1 << 3) | 2)) {
      keyValue(reader);
      resource[lastKey] = lastValue;
    } else reader.skip(t & 7);
  }
  return resource;
}

export function resourceText(resource: FlatAttributes): ResourceText {
  const columns = resourceColumns(resource);
  return {
    columns,
    service: json(columns.service_name),
    version: json(columns.project_version),
    environment: json(columns.environment),
    restKeys: Object.keys(columns.rest),
    restValues: Object.values(columns.rest),
  };
}

/**
 * The attributes of the item being read, merged over the resource's other ones as mergedAttributes() merges them:
 * the resource's keys first, a key set again keeping its place and taking the later value.
 */
const keys: string[] = [];
const values: string[] = [];
/** Positions by key, built once an item has many attributes (a linear search would make a hostile one quadratic). */
let index: Map<string, number> | undefined;
const INDEX_FROM = 16;

export function startAttributes(resource: ResourceText): void {
  keys.length = 0;
  values.length = 0;
  index = undefined;
  for (let i = 0; i < resource.restKeys.length; i++) setAttribute(resource.restKeys[i] as string, resource.restValues[i] as string);
}

export function setAttribute(key: string, value: string): void {
  if (index === undefined && keys.length < INDEX_FROM) {
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] === key) {
        values[i] = value;
        return;
      }
    }
  } else {
    if (index === undefined) index = new Map(keys.map((k, i) => [k, i]));
    const at = index.get(key);
    if (at !== undefined) {
      values[at] = value;
      return;
    }
    index.set(key, keys.length);
  }
  keys.push(key);
  values.push(value);
}

/**
 * The attributes as a JSON object, keys in the order the full path's object gives them: JavaScript puts keys that are
 * array indices ("0", "17", …) first, in numeric order, then the others in the order they were set.
 */
export function attributesText(): string {
  let order: number[] | undefined;
  for (let i = 0; i < keys.length; i++) {
    if (isArrayIndex(keys[i] as string)) {
      order = keys.map((_, k) => k);
      const indexFirst = (k: number) => (isArrayIndex(keys[k] as string) ? Number(keys[k]) : Number.POSITIVE_INFINITY);
      order.sort((a, b) => indexFirst(a) - indexFirst(b) || a - b);
      break;
    }
  }
  let text = '{';
  for (let n = 0; n < keys.length; n++) {
    const i = order === undefined ? n : (order[n] as number);
    text += `${n === 0 ? '' : ','}${json(keys[i])}:${json(values[i])}`;
  }
  return `${text}}`;
}

/** A canonical array index: digits without a leading zero, below 2^32 - 1. */
function isArrayIndex(key: string): boolean {
  const first = key.charCodeAt(0);
  if (!(first >= 48 && first <= 57)) return false;
  return /^(?:0|[1-9]\d{0,9})$/.test(key) && Number(key) < 4294967295;
}

// Rows of a batch mostly fall within the same second: format the date and time once a second.
let cachedSecond = Number.NaN;
let cachedPrefix = '';

function secondText(second: number): string | undefined {
  if (second !== cachedSecond) {
    const text = formatTimestamp(second * 1000);
    if (text.length !== 23) return undefined;
    cachedSecond = second;
    cachedPrefix = text.slice(0, 19);
  }
  return cachedPrefix;
}

/** Milliseconds since the epoch as DateTime64(3) text, as formatTimestamp() writes it. */
export function timestampText(ms: number): string {
  const second = Math.floor(ms / 1000);
  const prefix = secondText(second);
  if (prefix === undefined) return formatTimestamp(ms);
  const fraction = ms - second * 1000;
  return `${prefix}.${fraction < 10 ? '00' : fraction < 100 ? '0' : ''}${fraction}`;
}

// (hi * 2^32) mod 1e9 without leaving exact doubles: hi = h1 * 2^16 + h0.
const TWO_32_MOD = 294_967_296;
const TWO_48_MOD = Number((2n ** 48n) % 1_000_000_000n);

/** Nanoseconds (as halves, below 2^63) as DateTime64(9) text, as formatNanos() writes it. */
export function nanosText(lo: number, hi: number): string {
  const second = Math.floor(nanosToMillis(lo, hi) / 1000);
  const prefix = secondText(second);
  const h1 = Math.floor(hi / 65536);
  const h0 = hi % 65536;
  const fraction = (((h1 * TWO_48_MOD) % 1e9) + ((h0 * TWO_32_MOD) % 1e9) + lo) % 1e9;
  const tail = String(fraction).padStart(9, '0');
  if (prefix !== undefined) return `${prefix}.${tail}`;
  return `${formatTimestamp(second * 1000).slice(0, 19)}.${tail}`;
}

// The last KeyValue read (module state, so reading one allocates only its strings).
export let lastKey = '';
export let lastValue = '';

/** Reads one KeyValue into lastKey/lastValue, when its value is a scalar (the full path flattens arrays, maps, bytes). */
export function keyValue(reader: WireReader): void {
  const outer = reader.enter();
  lastKey = '';
  lastValue = '';
  for (let tag = reader.tag(); tag !== -1; tag = reader.tag()) {
    if (tag === ((1 << 3) | 2)) lastKey = reader.string();
    else if (tag === ((2 << 3) | 2)) {
      const valueOuter = reader.enter();
      lastValue = anyValueText(reader);
      reader.leave(valueOuter);
    } else reader.skip(tag & 7);
  }
  reader.leave(outer);
}

/** The text of an AnyValue holding a scalar (the reader entered into it); WireMismatch for arrays, maps and bytes. */
export function anyValueText(reader: WireReader): string {
  let value = '';
  let seen = false;
  for (let tag = reader.tag(); tag !== -1; tag = reader.tag()) {
    if (seen) throw new WireMismatch('AnyValue with more than one value');
    seen = true;
    switch (tag) {
      case (1 << 3) | 2:
        value = reader.string();
        break;
      case (2 << 3) | 0:
        value = reader.varint32() !== 0 ? 'true' : 'false';
        break;
      case (3 << 3) | 0:
        reader.varint64();
        value = int64Text(reader.lo, reader.hi);
        break;
      case (4 << 3) | 1:
        value = String(reader.double());
        break;
      default:
        throw new WireMismatch(`AnyValue field ${tag >>> 3}`);
    }
  }
  return value;
}
