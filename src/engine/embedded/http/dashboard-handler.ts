// Owns the embedded engine's web dashboard: a login form and session cookie, static assets, and the panels' JSON.

import { randomBytes } from 'node:crypto';
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
import { send, type LogFn } from './respond.js';

export interface DashboardHandlerOptions {
  connection: ClickHouseConnection;
  database: string;
  /** Who may log in (the reader and admin roles); undefined with --no-auth. */
  users: Users | undefined;
  log: LogFn;
}

const SESSION_COOKIE = 'amt_session';
const SESSION_MS = 12 * 3_600_000;

const SESSION_PATTERN = new RegExp(`(?:^|;\\s*)${SESSION_COOKIE}=([A-Za-z0-9_-]+)`);

/** The session token the request's cookie carries, if any. */
function sessionToken(req: IncomingMessage): string | undefined {
  return SESSION_PATTERN.exec(String(req.headers.cookie ?? ''))?.[1];
}

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

export function createDashboardHandler(options: DashboardHandlerOptions) {
  const sessions = new Map<string, number>();
  const uplotDir = dirname(createRequire(import.meta.url).resolve('uplot'));
  const assets: Record<string, string> = {
    '/assets/app.js': join(packageRoot(), 'assets', 'dashboard', 'app.js'),
    '/assets/app.css': join(packageRoot(), 'assets', 'dashboard', 'app.css'),
    '/assets/uPlot.iife.min.js': join(uplotDir, 'uPlot.iife.min.js'),
    '/assets/uPlot.min.css': join(uplotDir, 'uPlot.min.css'),
  };
  const page = (name: string) => join(packageRoot(), 'assets', 'dashboard', name);
  const security = { 'X-Frame-Options': 'DENY', 'X-Content-Type-Options': 'nosniff', 'Content-Security-Policy': "default-src 'self'; style-src 'self' 'unsafe-inline'" };

  const loggedIn = (req: IncomingMessage): boolean => {
    if (!options.users) return true;
    const token = sessionToken(req);
    const expiry = token ? sessions.get(token) : undefined;
    return expiry !== undefined && expiry > Date.now();
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
        const form = new URLSearchParams((await readBody(req, 64 * 1024)).toString('utf8'));
        const outcome = checkCredentials({ username: form.get('username') ?? '', password: form.get('password') ?? '' }, options.users);
        if (!hasRole(outcome, ['reader', 'admin'])) {
          options.log({ level: 'warn', endpoint: 'dashboard', msg: 'failed login', user: form.get('username') });
          res.writeHead(303, { Location: '/login?failed=1' }).end();
          return;
        }
        const token = randomBytes(24).toString('base64url');
        sessions.set(token, Date.now() + SESSION_MS);
        res.writeHead(303, { Location: '/', 'Set-Cookie': `${SESSION_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_MS / 1000}` }).end();
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
