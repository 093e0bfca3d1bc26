// Owns the embedded engine's web dashboard: a login form and session cookie, static assets and pages, and the panels' JSON
// (the explorer's JSON for traces, logs and metrics is explorer-api.ts; the login's defences are login-guard.ts).

import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { ClickHouseConnection } from '../../../clickhouse/http-client.js';
import { dashboardData, projectList } from '../../../dashboard/data.js';
import { describeError } from '../../../errors.js';
import { packageRoot } from '../../../paths.js';
import { checkCredentials, hasRole, type Users } from './auth.js';
import { BodyError, readBody } from './body.js';
import { TRACE_ID } from '../../../query/trace-detail.js';
import { createExplorerApi } from './explorer-api.js';
import { LoginThrottle, SessionStore } from './login-guard.js';
import { acceptsGzip, send, type LogFn } from './respond.js';

export interface DashboardHandlerOptions {
  connection: ClickHouseConnection;
  database: string;
  /** Who may log in (the reader and admin roles); undefined with --no-auth. */
  users: Users | undefined;
  log: LogFn;
}

const SESSION_COOKIE = 'amt_session';
const SESSION_MS = 12 * 3_600_000;
/** Failed logins allowed per client address and minute, then 429. */
const LOGIN_ATTEMPTS_PER_MINUTE = 10;
const MAX_SESSIONS = 1_000;

const SESSION_PATTERN = new RegExp(`(?:^|;\\s*)${SESSION_COOKIE}=([A-Za-z0-9_-]+)`);

/** The session token the request's cookie carries, if any. */
function sessionToken(req: IncomingMessage): string | undefined {
  return SESSION_PATTERN.exec(String(req.headers.cookie ?? ''))?.[1];
}

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

export function createDashboardHandler(options: DashboardHandlerOptions) {
  const sessions = new SessionStore({ ttlMs: SESSION_MS, max: MAX_SESSIONS });
  const throttle = new LoginThrottle({ attempts: LOGIN_ATTEMPTS_PER_MINUTE, windowMs: 60_000, maxAddresses: 10_000 });
  const explorer = createExplorerApi(options.connection, options.database);
  // Expired sessions go even when nobody logs in for a while.
  const pruner = setInterval(() => sessions.prune(), 10 * 60_000);
  pruner.unref();
  const uplotDir = dirname(createRequire(import.meta.url).resolve('uplot'));
  const assets: Record<string, string> = {
    '/assets/app.js': join(packageRoot(), 'assets', 'dashboard', 'app.js'),
    '/assets/app.css': join(packageRoot(), 'assets', 'dashboard', 'app.css'),
    '/assets/common.js': join(packageRoot(), 'assets', 'dashboard', 'common.js'),
    '/assets/explorer.js': join(packageRoot(), 'assets', 'dashboard', 'explorer.js'),
    '/assets/logs.js': join(packageRoot(), 'assets', 'dashboard', 'logs.js'),
    '/assets/metrics.js': join(packageRoot(), 'assets', 'dashboard', 'metrics.js'),
    '/assets/span-panel.js': join(packageRoot(), 'assets', 'dashboard', 'span-panel.js'),
    '/assets/waterfall.js': join(packageRoot(), 'assets', 'dashboard', 'waterfall.js'),
    '/assets/uPlot.iife.min.js': join(uplotDir, 'uPlot.iife.min.js'),
    '/assets/uPlot.min.css': join(uplotDir, 'uPlot.min.css'),
  };
  const page = (name: string) => join(packageRoot(), 'assets', 'dashboard', name);
  const security = { 'X-Frame-Options': 'DENY', 'X-Content-Type-Options': 'nosniff', 'Content-Security-Policy': "default-src 'self'; style-src 'self' 'unsafe-inline'" };

  const loggedIn = (req: IncomingMessage): boolean => {
    if (!options.users) return true;
    return sessions.valid(sessionToken(req));
  };

  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    try {
      if (url.pathname === '/health') return await send(res, 200, { 'Content-Type': 'application/json' }, '{"status":"ok"}\n');
      if (url.pathname === '/favicon.ico') return await send(res, 204, {}, '');
      const asset = assets[url.pathname];
      if (asset && req.method === 'GET') {
        const ext = asset.slice(asset.lastIndexOf('.'));
        return await send(res, 200, { ...security, 'Content-Type': TYPES[ext] ?? 'application/octet-stream', 'Cache-Control': 'max-age=300' }, await readFile(asset));
      }
      if (url.pathname === '/login' && req.method === 'GET') {
        return await send(res, 200, { ...security, 'Content-Type': TYPES['.html'] as string }, await readFile(page('login.html')));
      }
      if (url.pathname === '/login' && req.method === 'POST') {
        const address = req.socket.remoteAddress ?? 'unknown';
        const wait = throttle.retryAfter(address);
        if (wait > 0) {
          options.log({ level: 'warn', endpoint: 'dashboard', msg: 'login throttled', address });
          return await send(res, 429, { ...security, 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': String(wait) }, `Too many failed sign-ins from this address: try again in ${wait} s.\n`);
        }
        const form = new URLSearchParams((await readBody(req, 64 * 1024)).toString('utf8'));
        const presented = { username: form.get('username') ?? '', password: form.get('password') ?? '' };
        // The reader role signs in (admin may too); each candidate is compared in constant time.
        const outcome = checkCredentials(presented, options.users);
        if (!hasRole(outcome, ['reader', 'admin'])) {
          throttle.failed(address);
          options.log({ level: 'warn', endpoint: 'dashboard', msg: 'failed login', user: presented.username.slice(0, 100), address });
          res.writeHead(303, { Location: '/login?failed=1' }).end();
          return;
        }
        throttle.succeeded(address);
        const token = sessions.create();
        // Over TLS the browser must never send the session in clear text (to a plain-http port on the same host).
        const secure = (req.socket as { encrypted?: boolean }).encrypted === true ? '; Secure' : '';
        res.writeHead(303, { Location: '/', 'Set-Cookie': `${SESSION_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_MS / 1000}${secure}` }).end();
        return;
      }
      if (url.pathname === '/logout' && req.method === 'POST') {
        const token = sessionToken(req);
        if (token) sessions.delete(token);
        res.writeHead(303, { Location: '/login', 'Set-Cookie': `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0` }).end();
        return;
      }
      if (!loggedIn(req)) {
        if (url.pathname.startsWith('/api/')) return await send(res, 401, { 'Content-Type': 'application/json' }, '{"error":"log in first"}\n');
        res.writeHead(303, { Location: '/login' }).end();
        return;
      }
      if (url.pathname === '/' && req.method === 'GET') {
        return await send(res, 200, { ...security, 'Content-Type': TYPES['.html'] as string, 'Cache-Control': 'no-store' }, await readFile(page('index.html')));
      }
      if (req.method === 'GET' && (url.pathname === '/traces' || /^\/traces\/[^/]+$/.test(url.pathname))) {
        const file = url.pathname === '/traces' ? 'traces.html' : 'trace.html';
        const id = url.pathname.slice('/traces/'.length);
        // The browser starts loading the trace's outline with the page, not after its scripts.
        const preload: Record<string, string> = TRACE_ID.test(id) ? { Link: `</api/traces/${id}?fields=outline>; rel=preload; as=fetch; crossorigin` } : {};
        return await send(res, 200, { ...security, ...preload, 'Content-Type': TYPES['.html'] as string, 'Cache-Control': 'no-store' }, await readFile(page(file)));
      }
      if (req.method === 'GET' && (url.pathname === '/logs' || url.pathname === '/metrics')) {
        return await send(res, 200, { ...security, 'Content-Type': TYPES['.html'] as string, 'Cache-Control': 'no-store' }, await readFile(page(`${url.pathname.slice(1)}.html`)));
      }
      if (await explorer(url, req.method ?? 'GET', res, acceptsGzip(req))) return;
      if (url.pathname === '/api/panels' && req.method === 'GET') {
        const data = await dashboardData(options.connection, options.database, url.searchParams.get('range') ?? '1h', url.searchParams.get('project') ?? '');
        return await send(res, 200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }, JSON.stringify(data));
      }
      if (url.pathname === '/api/projects' && req.method === 'GET') {
        return await send(res, 200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }, JSON.stringify(await projectList(options.connection, options.database)));
      }
      await send(res, 404, { 'Content-Type': 'text/plain' }, 'not found\n');
    } catch (error) {
      const status = error instanceof BodyError ? error.status : 500;
      options.log({ level: 'warn', endpoint: 'dashboard', status, error: describeError(error) });
      if (!res.headersSent) await send(res, status, { 'Content-Type': 'application/json' }, JSON.stringify({ error: describeError(error).split('\n')[0] }));
    }
  };
}
