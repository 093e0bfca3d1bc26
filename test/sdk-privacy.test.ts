// Privacy and consent as a user meets them: each of the three opt-outs sends nothing and opens no connection; the
// anonymous id goes out only when the app asks; each kind of PII is scrubbed before it reaches the store.

import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeAppFolder, type AppFolder } from './helpers/sdk-app.js';
import { startStack, type RunningStack } from './helpers/stack.js';

let stack: RunningStack;
let app: AppFolder;
let counter: { url: string; connections: number; server: Server };

beforeAll(async () => {
  stack = await startStack();
  app = await makeAppFolder();
  const server = createServer((socket) => {
    counter.connections++;
    socket.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  counter = { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, connections: 0, server };
});
afterAll(async () => {
  await new Promise<void>((r) => counter?.server.close(() => r()));
  await app?.cleanup();
  await stack?.stop();
});

/** A fresh user home in the app folder. */
async function userHome(name: string): Promise<string> {
  const home = join(app.dir, name);
  await mkdir(home, { recursive: true });
  return home;
}

const tracker = (options: string) => `
  import { AutomagikTelemetry } from 'automagik-telemetry';
  const t = new AutomagikTelemetry({ projectName: 'consent', maxRetries: 0, timeoutMs: 1000, ${options} });
  t.registerExitHandlers();
  t.trackEvent('opened', { plan: 'pro' });
  const r = await t.flush();
  console.log(JSON.stringify({ enabled: t.enabled, sent: r.sent, errors: r.errors.length, id: t.anonymousId ?? null }));
`;

describe('a user who opted out', () => {
  it.each([
    ['AUTOMAGIK_TELEMETRY_ENABLED=false', { AUTOMAGIK_TELEMETRY_ENABLED: 'false' }, false],
    ['DO_NOT_TRACK=1', { DO_NOT_TRACK: '1' }, false],
    ['~/.automagik-no-telemetry', {}, true],
  ])('by %s gets nothing sent and no connection made, even when the code says enabled: true', async (_way, env, file) => {
    const home = await userHome(`optout-${Object.keys(env)[0] ?? 'file'}`);
    if (file) await writeFile(join(home, '.automagik-no-telemetry'), '');
    const before = counter.connections;
    const result = await app.run(tracker(`enabled: true, endpoint: '${counter.url}/v1/traces', spoolDir: ${JSON.stringify(join(home, 'spool'))}`), { HOME: home, ...env });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ enabled: false, sent: 0, errors: 0, id: null });
    expect(counter.connections - before).toBe(0);
    expect(existsSync(join(home, '.automagik'))).toBe(false);
    expect(existsSync(join(home, 'spool'))).toBe(false);
  });

  it('is told apart from one who did not: the same app connects when nothing opts out', async () => {
    const home = await userHome('consenting');
    const before = counter.connections;
    const result = await app.run(tracker(`endpoint: '${counter.url}/v1/traces'`), { HOME: home, DO_NOT_TRACK: '0' });
    expect(JSON.parse(result.stdout)).toMatchObject({ enabled: true, sent: 0, errors: 1 });
    expect(counter.connections - before).toBeGreaterThan(0);
  });
});

async function attributesOf(project: string): Promise<Array<{ span_name: string; status_message: string; attributes: Record<string, string> }>> {
  return stack.rows(`SELECT span_name, status_message, attributes FROM telemetry.traces WHERE project_name = {p:String} ORDER BY span_name`, { p: project });
}

describe('the anonymous id', () => {
  it("is kept in ~/.automagik/user_id, shared by projects, and sent as user.id only with identify: 'anonymous'", async () => {
    const home = await userHome('identity');
    const run = (project: string, identify: string) =>
      app.run(
        `import { AutomagikTelemetry } from 'automagik-telemetry';
         const t = new AutomagikTelemetry({ projectName: '${project}', ${identify} });
         t.trackEvent('hello');
         await t.shutdown();`,
        { ...stack.vars, HOME: home },
      );
    await run('anon-none', '');
    expect(existsSync(join(home, '.automagik', 'user_id'))).toBe(false);
    expect((await attributesOf('anon-none'))[0]?.attributes['user.id']).toBeUndefined();
    await run('anon-a', "identify: 'anonymous'");
    await run('anon-b', "identify: 'anonymous'");
    const id = (await readFile(join(home, '.automagik', 'user_id'), 'utf8')).trim();
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect((await attributesOf('anon-a'))[0]?.attributes['user.id']).toBe(id);
    expect((await attributesOf('anon-b'))[0]?.attributes['user.id']).toBe(id);
  });
});

describe('PII in what an app tracks', () => {
  const pii = {
    email: 'signed up as ann.lee@example.com',
    phone: 'call +44 20 7946 0958 or (415) 555-2671',
    apiKey: 'using sk_live_4eC39HqLyjWDarjtT1zdp7dc',
    bearer: 'Authorization: Bearer abcDEF123456ghiJKL7890',
    card: 'card 4111 1111 1111 1111, not 4111 1111 1111 1112',
    ipv4: 'client 203.0.113.7',
    ipv6: 'client 2001:db8:85a3::8a2e:370:7334',
    path: '/home/alice/projects/app/index.js',
    plain: 'plan pro, 3 seats, v1.2.3, order o-17',
  };

  const track = (project: string, options: string, home: string) =>
    app.run(
      `import { AutomagikTelemetry } from 'automagik-telemetry';
       const t = new AutomagikTelemetry({ projectName: '${project}' ${options} });
       t.trackEvent('pii', ${JSON.stringify(pii)});
       t.trackError(new Error('cannot mail ann.lee@example.com from ${home}/app'));
       await t.shutdown();`,
      { ...stack.vars, HOME: home },
    );

  it('is redacted by default, each kind, in attribute values and error messages; ordinary text is kept', async () => {
    const home = await userHome('pii-redact');
    await track('pii-redact', '', home);
    const [error, event] = await attributesOf('pii-redact');
    expect(event?.attributes).toMatchObject({
      email: 'signed up as [email]',
      phone: 'call [phone] or [phone]',
      apiKey: 'using [secret]',
      bearer: 'Authorization: Bearer [secret]',
      card: 'card [card], not 4111 1111 1111 1112',
      ipv4: 'client [ip]',
      ipv6: 'client [ip]',
      path: '/home/[user]/projects/app/index.js',
      plain: pii.plain,
    });
    expect(error?.status_message).toBe('cannot mail [email] from ~/app');
    expect(error?.attributes['exception.message']).toBe('cannot mail [email] from ~/app');
    expect(error?.attributes['exception.stacktrace']).not.toContain(home);
  });

  it("is hashed with scrub: 'hash', the same on every run of this install", async () => {
    const home = await userHome('pii-hash');
    await track('pii-hash-1', ", scrub: 'hash'", home);
    await track('pii-hash-2', ", scrub: 'hash'", home);
    const [, first] = await attributesOf('pii-hash-1');
    const [, second] = await attributesOf('pii-hash-2');
    expect(first?.attributes.email).toMatch(/^signed up as \[email:[0-9a-f]{12}\]$/);
    expect(second?.attributes.email).toBe(first?.attributes.email);
    expect((await stat(join(home, '.automagik', 'hash_key'))).mode & 0o777).toBe(0o600);
  });

  it("is sent as is with scrub: 'off'", async () => {
    const home = await userHome('pii-off');
    await track('pii-off', ", scrub: 'off'", home);
    const [, event] = await attributesOf('pii-off');
    expect(event?.attributes).toMatchObject(pii);
  });
});
