// The built-in dashboard's page script: no framework, no network but this server. Draws the panels that
// /api/panels returns, with uPlot for time series.
(function () {
  'use strict';

  if (document.body.classList.contains('login')) {
    if (new URLSearchParams(location.search).has('failed')) document.getElementById('failed').hidden = false;
    return;
  }

  const state = { range: localStorage.getItem('amt.range') || '1h', project: '', timer: null, charts: [] };
  const panelsEl = document.getElementById('panels');
  const projectEl = document.getElementById('project');

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'text') node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const child of children || []) node.appendChild(child);
    return node;
  }

  function format(value, unit) {
    if (value === null || value === undefined) return '–';
    const n = Number(value);
    if (!Number.isFinite(n)) return String(value);
    const text = n >= 1000 ? n.toLocaleString('en-US') : String(Math.round(n * 100) / 100);
    return unit === 'percent' ? `${text}%` : unit === 'ms' ? `${text} ms` : text;
  }

  function statPanel(panel) {
    const row = panel.rows[0] || {};
    return [el('div', { class: 'value', 'data-testid': `value-${panel.id}`, text: format(row.value, panel.unit) })];
  }

  function tablePanel(panel) {
    if (panel.rows.length === 0) return [el('p', { class: 'muted', text: 'Nothing in this range.' })];
    const columns = Object.keys(panel.rows[0]);
    const head = el('tr', {}, columns.map((c) => el('th', { text: c })));
    const body = panel.rows.map((r) => el('tr', {}, columns.map((c) => el('td', { text: String(r[c]), title: String(r[c]) }))));
    return [el('table', { 'data-testid': `table-${panel.id}` }, [el('thead', {}, [head]), el('tbody', {}, body)])];
  }

  function barPanel(panel) {
    const max = Math.max(1, ...panel.rows.map((r) => Number(r.events)));
    return [
      el(
        'div',
        { class: 'bars', 'data-testid': `bars-${panel.id}` },
        panel.rows.map((r) =>
          el('div', { class: 'bar' }, [
            el('span', { text: String(r.project), title: String(r.project) }),
            el('div', { class: 'fill', style: `width:${(100 * Number(r.events)) / max}%` }),
            el('span', { text: format(r.events) }),
          ]),
        ),
      ),
    ];
  }

  function timeseriesPanel(panel, container, data) {
    const series = panel.rows.length ? Object.keys(panel.rows[0]).filter((k) => k !== 'time') : [];
    const from = Date.parse(data.from.replace(' ', 'T') + 'Z') / 1000;
    const to = Date.parse(data.to.replace(' ', 'T') + 'Z') / 1000;
    const xs = [];
    for (let t = Math.floor(from / data.step) * data.step; t <= to; t += data.step) xs.push(t);
    const byTime = new Map(panel.rows.map((r) => [Date.parse(String(r.time).replace(' ', 'T') + 'Z') / 1000, r]));
    const columns = [xs, ...series.map((s) => xs.map((x) => (byTime.has(x) ? Number(byTime.get(x)[s]) : panel.id === 'events_over_time' ? 0 : null)))];
    const colors = ['#5b8def', '#f06b6b', '#52c41a'];
    const width = Math.max(200, container.clientWidth - 24);
    const chart = new uPlot(
      {
        width,
        height: 200,
        series: [{}, ...series.map((s, i) => ({ label: s, stroke: colors[i % colors.length], width: 2, spanGaps: true }))],
        axes: [{ stroke: '#8b93a7', grid: { stroke: '#2a2f3d' } }, { stroke: '#8b93a7', grid: { stroke: '#2a2f3d' } }],
        scales: { x: { time: true, min: from, max: to } },
      },
      columns,
      container,
    );
    container.setAttribute('data-points', String(panel.rows.length));
    state.charts.push(chart);
  }

  function render(data) {
    state.charts.forEach((c) => c.destroy());
    state.charts = [];
    panelsEl.textContent = '';
    document.getElementById('empty').hidden = data.hasData;
    panelsEl.hidden = !data.hasData;
    if (!data.hasData) return;
    const layout = { total: [6], errors: [6], error_rate: [6], p95: [6], events_over_time: [12], latency_over_time: [12], by_project: [8], top_events: [8], recent_errors: [8] };
    for (const panel of data.panels) {
      const span = (layout[panel.id] || [12])[0];
      const box = el('section', { class: `panel ${panel.kind === 'stat' ? 'stat' : ''}`, 'data-panel': panel.id, style: `grid-column: span ${span}` }, [el('h2', { text: panel.title })]);
      panelsEl.appendChild(box);
      if (panel.kind === 'stat') statPanel(panel).forEach((n) => box.appendChild(n));
      else if (panel.kind === 'table') tablePanel(panel).forEach((n) => box.appendChild(n));
      else if (panel.kind === 'barchart') barPanel(panel).forEach((n) => box.appendChild(n));
      else {
        const holder = el('div', { 'data-testid': `chart-${panel.id}` });
        box.appendChild(holder);
        timeseriesPanel(panel, holder, data);
      }
    }
  }

  async function loadProjects() {
    const res = await fetch('/api/projects', { credentials: 'same-origin' });
    if (res.status === 401) return location.assign('/login');
    const projects = await res.json();
    const keep = projectEl.value;
    projectEl.textContent = '';
    projectEl.appendChild(el('option', { value: '', text: 'All projects' }));
    for (const p of projects) projectEl.appendChild(el('option', { value: p, text: p }));
    projectEl.value = projects.includes(keep) ? keep : '';
  }

  async function refresh() {
    const query = new URLSearchParams({ range: state.range, project: state.project });
    try {
      const res = await fetch(`/api/panels?${query}`, { credentials: 'same-origin' });
      if (res.status === 401) return location.assign('/login');
      const data = await res.json();
      if (!res.ok) throw new Error(data.error || `HTTP ${res.status}`);
      render(data);
      document.getElementById('error').hidden = true;
      document.getElementById('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
      document.body.setAttribute('data-loaded', `${state.range}|${state.project}`);
    } catch (error) {
      const box = document.getElementById('error');
      box.textContent = `Could not load the panels: ${error.message}`;
      box.hidden = false;
    }
  }

  function schedule() {
    clearInterval(state.timer);
    if (document.getElementById('auto-refresh').checked) state.timer = setInterval(refresh, 10000);
  }

  document.querySelectorAll('[data-range]').forEach((button) => {
    if (button.dataset.range === state.range) button.classList.add('active');
    button.addEventListener('click', () => {
      document.querySelectorAll('[data-range]').forEach((b) => b.classList.remove('active'));
      button.classList.add('active');
      state.range = button.dataset.range;
      localStorage.setItem('amt.range', state.range);
      refresh();
    });
  });
  projectEl.addEventListener('change', () => {
    state.project = projectEl.value;
    refresh();
  });
  document.getElementById('auto-refresh').addEventListener('change', schedule);
  window.addEventListener('resize', () => refresh());

  loadProjects().then(refresh);
  schedule();
})();
