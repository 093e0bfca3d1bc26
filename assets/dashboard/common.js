// The dashboard pages' shared helpers (no framework): building elements, formatting, and reading the JSON API.
(function () {
  'use strict';

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'text') node.textContent = v;
      else if (k === 'on') for (const [event, fn] of Object.entries(v)) node.addEventListener(event, fn);
      else node.setAttribute(k, v === true ? '' : v);
    }
    for (const child of children || []) if (child) node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    return node;
  }

  /** Milliseconds as people read them: 850 ms, 1.25 s, 2 min 5 s. */
  function duration(ms) {
    const n = Number(ms);
    if (!Number.isFinite(n)) return '–';
    if (n < 1000) return `${n} ms`;
    if (n < 60_000) return `${(n / 1000).toFixed(n < 10_000 ? 2 : 1)} s`;
    const min = Math.floor(n / 60_000);
    return `${min} min ${Math.round((n % 60_000) / 1000)} s`;
  }

  function pad(n, w) {
    return String(n).padStart(w || 2, '0');
  }

  /** Local date-time with milliseconds: 2026-11-26 10:04:05.123. */
  function time(ms) {
    const d = new Date(Number(ms));
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  }

  /** GET a JSON endpoint of this server; a lost session goes back to the login form. */
  async function api(path) {
    const res = await fetch(path, { credentials: 'same-origin' });
    if (res.status === 401) {
      location.assign('/login');
      throw new Error('not logged in');
    }
    const body = await res.json();
    if (!res.ok) {
      const error = new Error(body.error || `HTTP ${res.status}`);
      error.status = res.status;
      throw error;
    }
    return body;
  }

  /** A stable colour per service name. */
  function colour(name) {
    let h = 0;
    for (const c of String(name)) h = (h * 31 + c.charCodeAt(0)) >>> 0;
    return `hsl(${h % 360} 55% 58%)`;
  }

  function showError(message) {
    const box = document.getElementById('error');
    if (!box) return;
    box.textContent = message || '';
    box.hidden = !message;
  }

  /** datetime-local text (local time) <-> epoch ms, for the custom range inputs. */
  function toLocalInput(ms) {
    const d = new Date(Number(ms) - new Date(Number(ms)).getTimezoneOffset() * 60_000);
    return d.toISOString().slice(0, 19);
  }
  function fromLocalInput(value) {
    const ms = new Date(value).getTime();
    return Number.isFinite(ms) ? ms : undefined;
  }

  /** Points the header's Overview, Traces, Logs and Metrics links at the same range and project as this page. */
  function navLinks(params) {
    const keep = new URLSearchParams();
    for (const key of ['range', 'from', 'to', 'project']) if (params.get(key)) keep.set(key, params.get(key));
    const overview = new URLSearchParams({ range: ['15m', '1h', '24h', '7d'].includes(params.get('range')) ? params.get('range') : '1h' });
    if (params.get('project')) overview.set('project', params.get('project'));
    const links = { 'nav-overview': `/?${overview}`, 'nav-traces': `/traces?${keep}`, 'nav-logs': `/logs?${keep}`, 'nav-metrics': `/metrics?${keep}` };
    for (const [id, href] of Object.entries(links)) {
      const a = document.getElementById(id);
      if (a) a.href = href.replace(/\?$/, '');
    }
  }

  /** One log record as a row: time, severity, body (whole text as a tooltip), and a link to its trace and span. */
  function logRow(l) {
    return el('div', { class: `log sev-${String(l.severity_text).replace(/[^A-Za-z]/g, '').toLowerCase()}`, 'data-testid': 'log' }, [
      el('span', { class: 'muted', title: new Date(l.time_ms).toISOString() }, [el('span', { class: 'date', text: time(l.time_ms).slice(0, 11) }), time(l.time_ms).slice(11)]),
      el('span', { class: 'severity', text: l.severity_text || String(l.severity_number) }),
      el('span', { class: 'body', text: l.body, title: l.body }),
      l.trace_id ? el('a', { href: `/traces/${l.trace_id}${l.span_id ? `?span=${l.span_id}` : ''}`, class: 'trace-link', 'data-testid': 'log-trace-link', text: 'trace ›' }) : null,
    ]);
  }

  /**
   * The controls every filter page shares: the search form (a custom from/to replaces the range and whatever else
   * `customRangeDrops` names), Clear (keeping only `keep` of the query string), the range presets (dropping a custom
   * from/to) and, when the page has them, Previous/Next. `current` reads the URL's parameters, `formParams` adds the
   * form's, `go` navigates.
   */
  function wireFilterControls({ current, formParams, go, keep, customRangeDrops = [] }) {
    document.getElementById('search').addEventListener('submit', (e) => {
      e.preventDefault();
      const params = formParams(current());
      const from = fromLocalInput(document.getElementById('from').value);
      const to = fromLocalInput(document.getElementById('to').value);
      if (from !== undefined || to !== undefined) {
        for (const key of ['range', 'from', 'to', ...customRangeDrops]) params.delete(key);
        if (from !== undefined) params.set('from', String(from));
        if (to !== undefined) params.set('to', String(to));
      }
      go(params);
    });
    document.getElementById('clear').addEventListener('click', () => {
      const params = new URLSearchParams();
      const base = current();
      for (const key of keep) if (base.has(key)) params.set(key, base.get(key));
      go(params);
    });
    document.querySelectorAll('[data-range]').forEach((button) =>
      button.addEventListener('click', () => {
        const params = formParams(current());
        params.delete('from');
        params.delete('to');
        params.set('range', button.dataset.range);
        go(params);
      }),
    );
    const prev = document.getElementById('prev');
    const next = document.getElementById('next');
    if (!prev || !next) return;
    const turn = (delta) => {
      const params = current();
      const page = Math.max(1, Number(params.get('page') || '1') + delta);
      if (page === 1) params.delete('page');
      else params.set('page', String(page));
      go(params);
    };
    prev.addEventListener('click', () => turn(-1));
    next.addEventListener('click', () => turn(1));
  }

  window.AMT = { el, duration, time, api, colour, showError, logRow, toLocalInput, fromLocalInput, navLinks, wireFilterControls };
})();
