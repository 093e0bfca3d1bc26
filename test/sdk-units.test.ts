// Unit tests beside the SDK's pure parts: backoff and the retry wrapper, the bounded queue, option resolution,
// consent, the spool, and the PII scrubbers (fast-check: no false negatives on generated emails and cards, no
// change to ordinary text).

import { mkdtemp, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { isIPv6 as nodeIsIPv6 } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TelemetryError } from '../src/errors.js';
import { safeName } from '../src/sdk/client.js';
import { encodeLogsRequest, encodeMetricsRequest, encodeTraceRequest } from '../src/otlp/protobuf.js';
import { buildRequest, makeEvent, spanOf, type QueuedEvent } from '../src/sdk/event.js';
import { buildLogsRequest, buildMetricsRequest, CounterTotals, makeLog, makeMetric, type QueuedLog, type QueuedMetric } from '../src/sdk/signal-items.js';
import { signalUrl } from '../src/sdk/export/otlp.js';
import { backoffDelay, retrying } from '../src/sdk/export/retrying.js';
import type { Batch, ExportResult } from '../src/sdk/export/types.js';
import { resolveSdkOptions, SDK_DEFAULTS } from '../src/sdk/options.js';
import { optOutReason } from '../src/sdk/privacy/consent.js';
import { isCardNumber, isIPv6, luhnValid, redact, scrubText } from '../src/sdk/privacy/scrub.js';
import { createScrubber } from '../src/sdk/privacy/scrubber.js';
import { EncodedQueue } from '../src/sdk/encoded-queue.js';
import { decodeBatch, encodeBatch, Spool } from '../src/sdk/spool.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'amt-sdk-units-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const policy = { maxRetries: 3, baseDelayMs: 100, maxDelayMs: 5_000 };

describe('backoff', () => {
  it('doubles from 100 ms with half of each step jittered, and stops growing at 5 s', () => {
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, policy, undefined, () => 0))).toEqual([50, 100, 200, 400]);
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, policy, undefined, () => 1))).toEqual([100, 200, 400, 800]);
    expect(backoffDelay(30, policy, undefined, () => 1)).toBe(5_000);
  });

  it("takes the server's Retry-After, within six times the cap", () => {
    expect(backoffDelay(1, policy, 1_000)).toBe(1_000);
    expect(backoffDelay(1, policy, 3_600_000)).toBe(30_000);
  });
});

describe('the retry wrapper', () => {
  const batch = { id: 'b', signal: 'span', events: [], resource: { projectName: 'p', version: '', environment: '', serviceName: 'p' }, sdkVersion: '0' } as Batch;
  const retryable: ExportResult = { code: 'retryable', error: new TelemetryError('E_OTLP', 'down') };
  const success: ExportResult = { code: 'success', accepted: 1, rejected: 0, message: '' };

  it('tries again after a retryable result and returns the success, with the delays it waited', async () => {
    const answers = [retryable, { ...retryable, retryAfterMs: 700 }, success];
    const slept: number[] = [];
    const exported = retrying(async () => answers.shift() as ExportResult, policy, undefined, async (ms) => void slept.push(ms));
    expect(await exported(batch)).toEqual(success);
    expect(slept).toHaveLength(2);
    expect(slept[1]).toBe(700);
  });

  it('returns the retryable result once the retries are spent, and never retries a failed one', async () => {
    let calls = 0;
    const down = retrying(async () => (calls++, retryable), policy, undefined, async () => undefined);
    expect((await down(batch)).code).toBe('retryable');
    expect(calls).toBe(4);
    calls = 0;
    const refused = retrying(async () => (calls++, { code: 'failed', error: new TelemetryError('E_OTLP', 'bad') }), policy, undefined, async () => undefined);
    expect((await refused(batch)).code).toBe('failed');
    expect(calls).toBe(1);
  });
});

describe('the bounded queue', () => {
  it('drops the oldest when full, counting space reserved by batches in flight', () => {
    const q = new EncodedQueue<number>(3, Number);
    expect([1, 2, 3].map((n) => q.push(n))).toEqual([0, 0, 0]);
    expect(q.push(4)).toBe(1);
    expect(q.take(10)).toEqual([2, 3, 4]);
    q.push(5);
    expect(q.push(6, 2)).toBe(1); // 2 reserved: room for one queued item only
    expect(q.take(10)).toEqual([6]);
    expect(q.push(7, 3)).toBe(1); // no room at all: the new item is the one dropped
    expect(q.size).toBe(0);
  });
});

describe('option resolution', () => {
  const stackHome = async (lines: string[]) => {
    const home = await mkdtemp(join(dir, 'home-'));
    await writeFile(join(home, '.env'), `${lines.join('\n')}\n`);
    return home;
  };

  it('takes options over environment over defaults, with batchSize and its seed alias for both backends', () => {
    const env = { AUTOMAGIK_TELEMETRY_BATCH_SIZE: '7', AUTOMAGIK_TELEMETRY_HOME: join(dir, 'none') };
    expect(resolveSdkOptions({ projectName: 'p' }, env).batchSize).toBe(7);
    expect(resolveSdkOptions({ projectName: 'p', batchSize: 9 }, env).batchSize).toBe(9);
    expect(resolveSdkOptions({ projectName: 'p', clickhouseBatchSize: 11 }, env).batchSize).toBe(11);
    expect(resolveSdkOptions({ projectName: 'p' }, { AUTOMAGIK_TELEMETRY_CLICKHOUSE_BATCH_SIZE: '13' }).batchSize).toBe(13);
    const defaults = resolveSdkOptions({ projectName: 'p' }, { AUTOMAGIK_TELEMETRY_HOME: join(dir, 'none') });
    expect(defaults).toMatchObject({ batchSize: SDK_DEFAULTS.batchSize, endpoint: 'http://localhost:4318/v1/traces', clickhouseEndpoint: 'http://localhost:8123', scrub: 'redact', identify: 'none', spoolDir: undefined });
    expect(() => resolveSdkOptions({ projectName: 'p', clickhouseBatchSize: 0 }, {})).toThrow('clickhouseBatchSize (or AUTOMAGIK_TELEMETRY_BATCH_SIZE) must be a whole number >= 1, got 0');
    expect(() => resolveSdkOptions({ projectName: 'p', scrub: 'blur' as never }, {})).toThrow(`scrub must be one of 'redact', 'hash', 'off', got "blur"`);
  });

  it('finds the local stack: endpoints from its host and ports, the credential from <home>/.env', async () => {
    const home = await stackHome(['CLICKHOUSE_USER=telemetry', 'CLICKHOUSE_PASSWORD=from-file']);
    const o = resolveSdkOptions({ projectName: 'p' }, { AUTOMAGIK_TELEMETRY_HOME: home, AUTOMAGIK_TELEMETRY_OTLP_PORT: '14318', AUTOMAGIK_TELEMETRY_CLICKHOUSE_PORT: '18123' });
    expect(o).toMatchObject({ endpoint: 'http://127.0.0.1:14318/v1/traces', clickhouseEndpoint: 'http://127.0.0.1:18123', clickhouseUsername: 'telemetry', clickhousePassword: 'from-file', credentialSource: join(home, '.env') });
  });

  it("prefers the ingest role's credential when the stack has one, and what the app or environment gives over both", async () => {
    const home = await stackHome(['CLICKHOUSE_USER=telemetry', 'CLICKHOUSE_PASSWORD=admin-secret', 'CLICKHOUSE_INGEST_USER=telemetry_ingest', 'CLICKHOUSE_INGEST_PASSWORD=ingest-secret']);
    expect(resolveSdkOptions({ projectName: 'p' }, { AUTOMAGIK_TELEMETRY_HOME: home })).toMatchObject({ clickhouseUsername: 'telemetry_ingest', clickhousePassword: 'ingest-secret' });
    expect(resolveSdkOptions({ projectName: 'p' }, { AUTOMAGIK_TELEMETRY_HOME: home, AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD: 'env' })).toMatchObject({ clickhouseUsername: 'telemetry_ingest', clickhousePassword: 'env', credentialSource: 'environment' });
    expect(resolveSdkOptions({ projectName: 'p', clickhousePassword: 'code' }, { AUTOMAGIK_TELEMETRY_HOME: home })).toMatchObject({ clickhousePassword: 'code', credentialSource: 'options' });
  });
});

describe('consent', () => {
  it('is off by AUTOMAGIK_TELEMETRY_ENABLED=false, DO_NOT_TRACK=1 or ~/.automagik-no-telemetry, and on otherwise', async () => {
    const home = await mkdtemp(join(dir, 'user-'));
    expect(optOutReason({ HOME: home })).toBeUndefined();
    expect(optOutReason({ HOME: home, AUTOMAGIK_TELEMETRY_ENABLED: 'false' })).toBe('AUTOMAGIK_TELEMETRY_ENABLED=false');
    expect(optOutReason({ HOME: home, DO_NOT_TRACK: '1' })).toBe('DO_NOT_TRACK=1');
    expect(optOutReason({ HOME: home, DO_NOT_TRACK: '0' })).toBeUndefined();
    await writeFile(join(home, '.automagik-no-telemetry'), '');
    expect(optOutReason({ HOME: home })).toBe(`${join(home, '.automagik-no-telemetry')} exists`);
  });
});

function batchOf(names: string[], id = `id-${names.join('-')}`): Batch {
  const events = names.map((n) => makeEvent(n, { who: 'ann@example.com', n: 3 }, { durationMs: 1.5, status: 'error', statusMessage: 'boom' }));
  events.forEach((e) => spanOf(e));
  return { id, signal: 'span', events, resource: { projectName: 'p', version: '1', environment: 'e', serviceName: 's' }, sdkVersion: '0.1.0' };
}

describe('the OTLP URL of each signal', () => {
  it('sits next to the traces endpoint, or under a base endpoint', () => {
    expect(signalUrl('http://127.0.0.1:4318/v1/traces', 'log')).toBe('http://127.0.0.1:4318/v1/logs');
    expect(signalUrl('http://127.0.0.1:4318/v1/traces/', 'metric')).toBe('http://127.0.0.1:4318/v1/metrics');
    expect(signalUrl('https://collector.example/otel/v1/traces', 'metric')).toBe('https://collector.example/otel/v1/metrics');
    expect(signalUrl('https://collector.example/otel', 'log')).toBe('https://collector.example/otel/v1/logs');
    expect(signalUrl('https://collector.example/otel/v1/traces?x=1', 'span')).toBe('https://collector.example/otel/v1/traces?x=1');
  });
});

describe('the spool', () => {
  it('gives a batch back byte for byte: the next run sends the very body the receiver deduplicates by', () => {
    const batch = batchOf(['a', 'b']);
    const again = decodeBatch(encodeBatch(batch));
    expect(again.id).toBe(batch.id);
    const body = (b: Batch) => Buffer.from(encodeTraceRequest(buildRequest(b.events as QueuedEvent[], b.resource, b.sdkVersion))).toString('hex');
    expect(body(again)).toBe(body(batch));
  });

  it('gives log and metric batches back byte for byte (nanosecond times, ids, histogram buckets, counter totals)', () => {
    const resource = { projectName: 'p', version: '1', environment: 'e', serviceName: 'p' };
    const counters = new CounterTotals();
    const metrics: Batch = {
      id: 'm1',
      signal: 'metric',
      resource,
      sdkVersion: '0.1.0',
      events: [makeMetric('h', 37.5, { type: 'histogram', attributes: { r: '/' } }, counters), makeMetric('c', 2, { type: 'counter' }, counters), makeMetric('c', 5, { type: 'counter' }, counters)],
    };
    const logs: Batch = { id: 'l1', signal: 'log', resource, sdkVersion: '0.1.0', events: [makeLog('hello', { severity: 'warn', traceId: 'ab'.repeat(16), spanId: 'cd'.repeat(8), attributes: { n: 1 } })] };
    const metricBody = (b: Batch) => Buffer.from(encodeMetricsRequest(buildMetricsRequest(b.events as QueuedMetric[], b.resource, b.sdkVersion))).toString('hex');
    const logBody = (b: Batch) => Buffer.from(encodeLogsRequest(buildLogsRequest(b.events as QueuedLog[], b.resource, b.sdkVersion))).toString('hex');
    const metricsAgain = decodeBatch(encodeBatch(metrics));
    const logsAgain = decodeBatch(encodeBatch(logs));
    expect(metricsAgain).toMatchObject({ id: 'm1', signal: 'metric' });
    expect(metricBody(metricsAgain)).toBe(metricBody(metrics));
    expect(logBody(logsAgain)).toBe(logBody(logs));
    expect((metricsAgain.events[2] as QueuedMetric).metric.points[0]?.value).toBe(7);
  });

  it('keeps span fields it does not know (span events, links) exactly, bytes and nanoseconds included', () => {
    const batch = batchOf(['with-extras']);
    const span = (batch.events[0] as QueuedEvent | undefined)?.span as unknown as Record<string, unknown>;
    span.events = [{ name: 'retry', timeUnixNano: 1764151200000000001n, attributes: { n: '2' } }];
    span.links = [{ traceId: new Uint8Array(16).fill(7), spanId: new Uint8Array(8).fill(9) }];
    const again = (decodeBatch(encodeBatch(batch)).events[0] as QueuedEvent | undefined)?.span as unknown as Record<string, unknown>;
    expect(again.events).toEqual(span.events);
    expect(again.links).toEqual(span.links);
    expect(Buffer.from(again.traceId as Uint8Array).toString('hex')).toBe(Buffer.from(span.traceId as Uint8Array).toString('hex'));
  });

  it('keeps at most maxBytes, dropping the oldest batches and counting their events', async () => {
    const drops: number[] = [];
    const one = Buffer.byteLength(encodeBatch(batchOf(['x', 'y'], 'size-probe-0000000000000000000000000')));
    const spool = new Spool(join(dir, 'bounded'), one * 2 + 10, (n) => drops.push(n));
    for (let i = 0; i < 4; i++) spool.write(batchOf(['x', 'y'], `batch-${i}-00000000000000000000000000000`));
    expect(drops).toEqual([2, 2]);
    expect(spool.pendingEvents).toBe(4);
    expect([spool.claim()?.batch.id, spool.claim()?.batch.id, spool.claim()]).toEqual([`batch-2-00000000000000000000000000000`, `batch-3-00000000000000000000000000000`, undefined]);
  });

  it("keeps each project in one folder of its own, whatever its name", () => {
    expect(['my-app', '../../etc', '..', '.', 'a/b', 'C:\\x', ''].map(safeName)).toEqual(['my-app', '_._.._etc', '_.', '_', 'a_b', 'C__x', '_']);
  });

  it('drops a damaged or foreign file instead of sending it, and counts its events', async () => {
    const folder = join(dir, 'damaged');
    await mkdir(folder);
    await writeFile(join(folder, '000000000000001-1-000000-x.3.batch'), '{"v":1,"id":"x","signal":"span","events":[{"span":{"startTimeUnixNano":{"$n":"not a number"}}}]');
    await writeFile(join(folder, '000000000000002-1-000000-y.2.batch'), 'not json at all');
    await writeFile(join(folder, 'notes.txt'), 'not a batch');
    const drops: number[] = [];
    const spool = new Spool(folder, 1e6, (n) => drops.push(n));
    expect(spool.scan()).toBe(5);
    expect(spool.claim()).toBeUndefined();
    expect(drops).toEqual([3, 2]);
    expect(await readdir(folder)).toEqual(['notes.txt']);
  });

  it('lets one client claim a batch; a claim by a process that died is released to the next', async () => {
    const folder = join(dir, 'claims');
    new Spool(folder, 1e6).write(batchOf(['c']));
    const first = new Spool(folder, 1e6);
    const second = new Spool(folder, 1e6);
    first.scan();
    second.scan();
    const claim = first.claim();
    expect(claim?.batch.events).toHaveLength(1);
    expect(second.claim()).toBeUndefined();
    // As if the claimer had been killed: its pid is gone.
    const [name] = await readdir(folder);
    await rename(join(folder, name as string), join(folder, (name as string).replace(/claimed-\d+$/, 'claimed-999999999')));
    expect(new Spool(folder, 1e6).claim()?.batch.id).toBe(claim?.batch.id);
  });
});

// Cards as issuers number them: a known prefix, the right length, the Luhn digit last.
const card = fc
  .constantFrom(['4', 16], ['4', 13], ['51', 16], ['55', 16], ['2221', 16], ['34', 15], ['37', 15], ['6011', 16], ['65', 16], ['3528', 16])
  .chain(([prefix, length]) => fc.array(fc.integer({ min: 0, max: 9 }), { minLength: length - prefix.length - 1, maxLength: length - prefix.length - 1 }).map((d) => withLuhn(prefix + d.join(''))));
function withLuhn(partial: string): string {
  for (let d = 0; d < 10; d++) if (luhnValid(partial + d)) return partial + d;
  throw new Error('unreachable');
}
const grouped = (digits: string, sep: string) => digits.replace(/(\d{4})(?=\d)/g, `$1${sep}`);
// Ordinary text: words, small numbers, versions, dates and times, identifiers — what attribute values mostly are.
const word = fc.stringMatching(/^[A-Za-z][a-z]{0,11}$/);
const ordinary = fc
  .array(
    fc.oneof(word, word, word, fc.integer({ min: 0, max: 99999 }).map(String), fc.tuple(fc.nat(20), fc.nat(30), fc.nat(99)).map(([a, b, c]) => `v${a}.${b}.${c}`), fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(4e12) }).map((d) => d.toISOString()), fc.uuid(), fc.constantFrom('user.signup', 'page_view', 'GET /api/orders', '12:30', '200 OK', 'std::vector', 'a-b_c')),
    { maxLength: 12 },
  )
  .chain((parts) => fc.constantFrom(' ', ', ', '; ', ' - ').map((sep) => parts.join(sep)));

describe('PII scrubbing', () => {
  it('redacts every generated email address, wherever it stands in a sentence', () => {
    fc.assert(fc.property(fc.emailAddress(), word, (email, w) => !scrubText(`${w} ${email}, ${w}`, redact).includes('@')), { numRuns: 2000, seed: 14 });
  });

  it('redacts every generated card number, plain or grouped by spaces or dashes, and leaves a failing Luhn digit alone', () => {
    fc.assert(
      fc.property(card, fc.constantFrom('', ' ', '-'), (number, sep) => {
        const text = `paid with ${grouped(number, sep)} today`;
        return scrubText(text, redact) === 'paid with [card] today';
      }),
      { numRuns: 2000, seed: 15 },
    );
    fc.assert(fc.property(card, (number) => !isCardNumber(number.slice(0, -1) + ((Number(number.at(-1)) + 1) % 10))), { numRuns: 500, seed: 16 });
  });

  it("recognises IPv6 addresses exactly as Node's own parser does (the SDK does not load node:net for it)", () => {
    // Scrubbed when it holds a digit or three groups: "a::b" and "add::bad" read as code more often than as addresses.
    const likely = (ip: string) => /\d/.test(ip) || ip.split(':').filter((g) => g !== '').length >= 3;
    fc.assert(fc.property(fc.ipV6(), (ip) => isIPv6(ip) && scrubText(`from ${ip} now`, redact) === (likely(ip) ? 'from [ip] now' : `from ${ip} now`)), { numRuns: 2000, seed: 18 });
    const near = fc.stringMatching(/^[0-9a-fA-F:.]{2,45}$/);
    fc.assert(fc.property(near, (text) => isIPv6(text) === nodeIsIPv6(text)), { numRuns: 5000, seed: 19 });
  });

  it('changes nothing in ordinary text', () => {
    fc.assert(fc.property(ordinary, (text) => scrubText(text, redact, '/home/someone') === text), { numRuns: 3000, seed: 17 });
  });

  it.each([
    ['email', 'mail ann.lee+tag@example.co.uk now', 'mail [email] now'],
    ['international phone', 'call +1 415 555 2671', 'call [phone]'],
    ['national phone', 'call (415) 555-2671 or 415-555-2671', 'call [phone] or [phone]'],
    ['API key', 'key sk_live_4eC39HqLyjWDarjtT1zdp7dc and ghp_16C7e42F292c6912E7710c838347Ae178B4a', 'key [secret] and [secret]'],
    ['secret assignment', 'api_key=abcd1234efgh password: "hunter22"', 'api_key=[secret] password: "[secret]"'],
    ['bearer token', 'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlMTIz', 'Authorization: Bearer [secret]'],
    ['card', 'card 4242 4242 4242 4242', 'card [card]'],
    ['IPv4', 'from 192.168.1.20:8080', 'from [ip]:8080'],
    ['IPv6', 'from 2001:db8::8a2e:370:7334 and fe80::1', 'from [ip] and [ip]'],
    ["someone's home folder", 'at /home/alice/src/app.js and /Users/bob/x and C:\\Users\\carol\\y', 'at /home/[user]/src/app.js and /Users/[user]/x and C:\\Users\\[user]\\y'],
  ])('redacts a %s', (_kind, text, expected) => {
    expect(scrubText(text, redact)).toBe(expected);
  });

  it('takes linear time on hostile values: 200 KB built to make each detector backtrack is scrubbed in seconds, not minutes', () => {
    const n = 200_000;
    const hostile = ['x@' + 'a'.repeat(n), 'a'.repeat(n) + '@', 'a.'.repeat(n / 2) + 'token=x', 'a-'.repeat(n / 2) + 'secret: abcd', '1 '.repeat(n / 2), '1.'.repeat(n / 2), '1:'.repeat(n / 2), 'eyJ' + 'a'.repeat(n)];
    const started = performance.now();
    for (const value of hostile) scrubText(value, redact);
    // Quadratic detectors took over a second at 20 KB (a hundred times that here); linear ones take well under one.
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(scrubText(`${'a'.repeat(100)}@example.com`, redact)).toBe(`${'a'.repeat(36)}[email]`);
  });

  it("writes this machine's home folder as ~", () => {
    expect(scrubText('failed at /srv/me/app/index.js:10', redact, '/srv/me')).toBe('failed at ~/app/index.js:10');
  });

  it('hashes with a key kept per install: the same value gives the same hash on one install, another on the next', async () => {
    const a = await mkdtemp(join(dir, 'install-a-'));
    const b = await mkdtemp(join(dir, 'install-b-'));
    await mkdir(join(a, '.automagik'), { recursive: true });
    const text = 'user ann@example.com';
    const first = createScrubber('hash', { HOME: a })(text);
    expect(first).toMatch(/^user \[email:[0-9a-f]{12}\]$/);
    expect(createScrubber('hash', { HOME: a })(text)).toBe(first);
    expect(createScrubber('hash', { HOME: b })(text)).not.toBe(first);
    expect(createScrubber('off', { HOME: a })(text)).toBe(text);
  });
});
