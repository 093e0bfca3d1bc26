// The log explorer: the query string is the state (filters, range, page, live tail); the form and the list are drawn
// from it, and every change pushes a new URL so Back and shared links work. Live tail polls /api/logs with the
// cursor of the previous answer, so each record shows once.
(function () {
  'use strict';
  const { el, time, api, showError, logRow, toLocalInput, navLinks, wireFilterControls } = window.AMT;
  const FIELDS = ['severity', 'service', 'project', 'environment', 'trace_id', 'q'];
  const TAIL_MS = 1000;
  /** The most rows the list keeps while tailing (the oldest go). */
  const MAX_ROWS = 1000;
  const list = document.getElementById('log-list');
  const live = document.getElementById('live');
  let tail = { timer: null, cursor: null, generation: 0 };

  function current() {
    return new URLSearchParams(location.search);
  }

  function fillForm(params) {
    for (const f of FIELDS) document.getElementById(`f-${f}`).value = params.get(f) || '';
    const custom = params.has('from') || params.has('to');
    const range = params.get('range') || '1h';
    document.querySelectorAll('[data-range]').forEach((b) => b.classList.toggle('active', !custom && b.dataset.range === range));
    live.checked = params.get('live') === '1';
    // A custom window lies in the past: nothing new arrives into it.
    live.disabled = custom;
  }

  function formParams(base) {
    const params = new URLSearchParams();
    for (const key of ['range', 'from', 'to', 'live']) if (base.has(key)) params.set(key, base.get(key));
    for (const f of FIELDS) {
      const value = document.getElementById(`f-${f}`).value.trim();
      if (value) params.set(f, value);
    }
    return params;
  }

  function go(params) {
    const query = params.toString();
    history.pushState(null, '', query ? `/logs?${query}` : '/logs');
    load();
  }

  /** The API's parameters for the page's state (the page-only `live` left out). */
  function apiParams(params) {
    const out = new URLSearchParams(params);
    out.delete('live');
    return out;
  }

  function row(l, fresh) {
    const node = logRow(l);
    if (fresh) node.classList.add('fresh');
    node.title = Object.entries(l.attributes || {}).map(([k, v]) => `${k}=${v}`).join('\n');
    node.insertBefore(el('span', { class: 'service', text: l.service, title: `${l.service} · project ${l.project}${l.environment ? ` · ${l.environment}` : ''}` }), node.children[2]);
    return node;
  }

  function stopTail() {
    clearTimeout(tail.timer);
    tail = { timer: null, cursor: null, generation: tail.generation + 1 };
    document.body.removeAttribute('data-tailing');
  }

  function startTail(params, cursor) {
    stopTail();
    const generation = tail.generation;
    tail.cursor = cursor;
    document.body.setAttribute('data-tailing', '1');
    const poll = async () => {
      try {
        const query = apiParams(params);
        query.delete('page');
        query.set('tail', tail.cursor);
        const result = await api(`/api/logs?${query}`);
        if (generation !== tail.generation) return;
        tail.cursor = result.cursor;
        if (result.logs.length > 0) {
          list.querySelector('.empty-note')?.remove();
          // The tail comes oldest first; the list is newest first.
          for (const l of result.logs) list.insertBefore(row(l, true), list.firstChild);
          while (list.children.length > MAX_ROWS) list.lastChild.remove();
          const shown = list.querySelectorAll('[data-testid="log"]').length;
          document.getElementById('summary').textContent = `${shown.toLocaleString('en-US')} shown · live`;
        }
        document.body.setAttribute('data-polled', String(Number(document.body.getAttribute('data-polled') || 0) + 1));
        showError('');
      } catch (error) {
        if (generation !== tail.generation) return;
        showError(`Live tail stopped for a moment: ${error.message}`);
      }
      if (generation === tail.generation) tail.timer = setTimeout(poll, TAIL_MS);
    };
    tail.timer = setTimeout(poll, TAIL_MS);
  }

  async function load() {
    const params = current();
    fillForm(params);
    stopTail();
    document.body.removeAttribute('data-loaded');
    try {
      const result = await api(`/api/logs?${apiParams(params)}`);
      const custom = params.has('from') || params.has('to');
      document.getElementById('from').value = custom ? toLocalInput(result.from) : '';
      document.getElementById('to').value = custom ? toLocalInput(result.to) : '';
      list.textContent = '';
      for (const l of result.logs) list.appendChild(row(l, false));
      if (result.logs.length === 0) list.appendChild(el('p', { class: 'muted empty-note', text: 'No log records match. Widen the time range or clear a filter.' }));
      const page = Math.floor(result.offset / result.limit) + 1;
      const pages = Math.max(1, Math.ceil(result.total / result.limit));
      document.getElementById('summary').textContent = `${result.total.toLocaleString('en-US')} record${result.total === 1 ? '' : 's'} · ${time(result.from)} → ${time(result.to)}`;
      document.getElementById('page').textContent = `page ${page} of ${pages}`;
      document.getElementById('prev').disabled = page <= 1;
      document.getElementById('next').disabled = page >= pages;
      showError('');
      if (live.checked && !live.disabled && page === 1) startTail(params, result.cursor);
    } catch (error) {
      list.textContent = '';
      showError(`Could not search: ${error.message}`);
    }
    navLinks(params);
    document.body.setAttribute('data-loaded', params.toString());
  }

  wireFilterControls({ current, formParams, go, keep: ['range', 'from', 'to', 'live'], customRangeDrops: ['live'] });
  live.addEventListener('change', () => {
    const params = formParams(current());
    params.delete('page');
    if (live.checked) params.set('live', '1');
    else params.delete('live');
    go(params);
  });
  window.addEventListener('popstate', load);
  load();
})();
