// The trace search page: the query string is the state (filters, range, sort, page); the form, the charts and the
// results are drawn from it, and every change pushes a new URL so Back and shared links work.
(function () {
  'use strict';
  const { el, duration, time, api, colour, showError, toLocalInput, navLinks, wireFilterControls } = window.AMT;
  const FIELDS = ['service', 'project', 'environment', 'name', 'status', 'min_ms', 'max_ms', 'q'];
  const tbody = document.querySelector('#results tbody');
  let chart = null;
  let lastResult = null;

  function current() {
    return new URLSearchParams(location.search);
  }

  /** Puts the URL's state into the form. */
  function fillForm(params) {
    for (const f of FIELDS) document.getElementById(`f-${f}`).value = params.get(f) || '';
    document.getElementById('f-attr').value = params.getAll('attr').join('\n');
    const custom = params.has('from') || params.has('to');
    const range = params.get('range') || '1h';
    document.querySelectorAll('[data-range]').forEach((b) => b.classList.toggle('active', !custom && b.dataset.range === range));
  }

  /** The form's filters as query parameters (time, sort and page are kept from `base`). */
  function formParams(base) {
    const params = new URLSearchParams();
    for (const key of ['range', 'from', 'to', 'sort', 'order']) if (base.has(key)) params.set(key, base.get(key));
    for (const f of FIELDS) {
      const value = document.getElementById(`f-${f}`).value.trim();
      if (value) params.set(f, value);
    }
    for (const line of document.getElementById('f-attr').value.split('\n')) if (line.trim()) params.append('attr', line.trim());
    return params;
  }

  function go(params) {
    const query = params.toString();
    history.pushState(null, '', query ? `/traces?${query}` : '/traces');
    load();
  }

  function drawTimeline(result) {
    const holder = document.getElementById('timeline');
    if (chart) chart.destroy();
    chart = null;
    holder.textContent = '';
    const step = result.step_ms;
    const xs = [];
    const counts = new Map(result.timeline.map((p) => [p.t, p]));
    for (let t = Math.floor(result.from / step) * step; t <= result.to && xs.length < 5000; t += step) xs.push(t / 1000);
    const traces = xs.map((x) => (counts.get(x * 1000) || {}).traces || 0);
    const errors = xs.map((x) => (counts.get(x * 1000) || {}).errors || 0);
    holder.dataset.from = String(result.from);
    holder.dataset.to = String(result.to);
    const width = Math.max(200, holder.clientWidth);
    chart = new uPlot(
      {
        width,
        height: 140,
        legend: { show: false },
        cursor: { drag: { x: true, y: false, setScale: false } },
        series: [
          {},
          { label: 'traces', stroke: '#5b8def', fill: 'rgba(91,141,239,0.35)', paths: uPlot.paths.bars({ size: [0.8, 40] }), points: { show: false } },
          { label: 'errors', stroke: '#f06b6b', fill: 'rgba(240,107,107,0.5)', paths: uPlot.paths.bars({ size: [0.8, 40] }), points: { show: false } },
        ],
        axes: [{ stroke: '#8b93a7', grid: { stroke: '#2a2f3d' } }, { stroke: '#8b93a7', grid: { stroke: '#2a2f3d' }, size: 48, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6] }],
        scales: { x: { time: true, min: result.from / 1000, max: result.to / 1000 } },
        hooks: {
          setSelect: [
            (u) => {
              if (u.select.width < 3) return;
              const from = Math.round(u.posToVal(u.select.left, 'x') * 1000);
              const to = Math.round(u.posToVal(u.select.left + u.select.width, 'x') * 1000);
              const params = current();
              params.delete('range');
              params.delete('page');
              params.set('from', String(from));
              params.set('to', String(to));
              go(params);
            },
          ],
        },
      },
      [xs, traces, errors],
      holder,
    );
  }

  function drawHistogram(result) {
    const holder = document.getElementById('histogram');
    holder.textContent = '';
    if (result.histogram.length === 0) return holder.appendChild(el('p', { class: 'muted', text: 'No traces.' }));
    const max = Math.max(1, ...result.histogram.map((b) => b.traces));
    const bars = el('div', { class: 'hist-bars' });
    for (const b of result.histogram) {
      const label = `${duration(b.min_ms)} – ${duration(b.max_ms)}: ${b.traces} trace${b.traces === 1 ? '' : 's'}`;
      bars.appendChild(
        el('button', {
          type: 'button', class: 'hist-bar', title: label, 'aria-label': label, 'data-testid': 'hist-bar', 'data-min': b.min_ms, 'data-max': b.max_ms, 'data-count': b.traces,
          on: { click: () => {
            const params = current();
            params.delete('page');
            params.set('min_ms', String(b.min_ms));
            params.set('max_ms', String(b.max_ms));
            go(params);
          } },
        }, [el('span', { style: `height:${b.traces ? Math.max(4, (100 * b.traces) / max) : 0}%` })]),
      );
    }
    holder.appendChild(bars);
    const first = result.histogram[0];
    const last = result.histogram[result.histogram.length - 1];
    holder.appendChild(el('div', { class: 'hist-axis muted' }, [el('span', { text: duration(first.min_ms) }), el('span', { text: duration(last.max_ms) })]));
  }

  function drawResults(result, params) {
    tbody.textContent = '';
    for (const t of result.traces) {
      const href = `/traces/${t.trace_id}`;
      const root = t.root_name || '(no name)';
      tbody.appendChild(
        el('tr', { 'data-trace-id': t.trace_id, class: t.errors ? 'has-error' : '', on: { click: (e) => { if (e.target.tagName !== 'A') location.assign(href); } } }, [
          el('td', { title: new Date(t.start_ms).toISOString() }, [el('span', { class: 'date', text: time(t.start_ms).slice(0, 11) }), time(t.start_ms).slice(11)]),
          el('td', { title: `${root} · ${t.trace_id}` }, [el('a', { href, text: root })]),
          el('td', { title: `${t.service} · project ${t.project}${t.environment ? ` · ${t.environment}` : ''}` }, [el('span', { class: 'dot', style: `background:${colour(t.service)}` }), t.service]),
          el('td', { class: 'num', text: duration(t.duration_ms) }),
          el('td', { class: 'num', text: t.spans.toLocaleString('en-US') }),
          el('td', { class: 'num' }, [t.errors ? el('span', { class: 'error-mark', title: `${t.errors} span(s) with status ERROR`, text: `● ${t.errors}` }) : '']),
        ]),
      );
    }
    if (result.traces.length === 0) tbody.appendChild(el('tr', {}, [el('td', { colspan: '6', class: 'muted', text: 'No traces match. Widen the time range or clear a filter.' })]));
    const page = Math.floor(result.offset / result.limit) + 1;
    const pages = Math.max(1, Math.ceil(result.total / result.limit));
    document.getElementById('summary').textContent = `${result.total.toLocaleString('en-US')} trace${result.total === 1 ? '' : 's'} · ${time(result.from)} → ${time(result.to)}`;
    document.getElementById('page').textContent = `page ${page} of ${pages}`;
    document.getElementById('prev').disabled = page <= 1;
    document.getElementById('next').disabled = page >= pages;
    const sort = params.get('sort') || 'start';
    const order = params.get('order') || 'desc';
    document.querySelectorAll('[data-sort]').forEach((b) => {
      b.classList.toggle('sorted', b.dataset.sort === sort);
      b.setAttribute('aria-sort', b.dataset.sort === sort ? (order === 'asc' ? 'ascending' : 'descending') : 'none');
      b.dataset.arrow = b.dataset.sort === sort ? (order === 'asc' ? '▲' : '▼') : '';
    });
  }

  async function load() {
    const params = current();
    fillForm(params);
    document.body.removeAttribute('data-loaded');
    try {
      const result = await api(`/api/traces?${params}`);
      lastResult = result;
      if (params.has('from') || params.has('to')) {
        document.getElementById('from').value = toLocalInput(result.from);
        document.getElementById('to').value = toLocalInput(result.to);
      } else {
        document.getElementById('from').value = '';
        document.getElementById('to').value = '';
      }
      drawResults(result, params);
      drawHistogram(result);
      drawTimeline(result);
      showError('');
    } catch (error) {
      showError(`Could not search: ${error.message}`);
    }
    navLinks(params);
    document.body.setAttribute('data-loaded', params.toString());
  }

  wireFilterControls({ current, formParams, go, keep: ['range', 'from', 'to'] });
  document.querySelectorAll('[data-sort]').forEach((button) =>
    button.addEventListener('click', () => {
      const params = current();
      const same = (params.get('sort') || 'start') === button.dataset.sort;
      params.set('sort', button.dataset.sort);
      params.set('order', same && (params.get('order') || 'desc') === 'desc' ? 'asc' : 'desc');
      params.delete('page');
      go(params);
    }),
  );
  window.addEventListener('popstate', load);
  let resizeTimer = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => lastResult && drawTimeline(lastResult), 150);
  });
  load();
})();
