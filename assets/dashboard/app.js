// The built-in dashboard's page script: no framework, no network but this server. Draws the panels that
// /api/panels returns, with uPlot for time series.
(function () {
  'use strict';

  if (document.body.classList.contains('login')) {
    if (new URLSearchParams(location.search).has('failed')) document.getElementById('failed').hidden = false;
    return;
  }

  const RANGES = ['15m', '1h', '24h', '7d'];
  const initial = new URLSearchParams(location.search);
  const state = {
    range: RANGES.includes(initial.get('range')) ? initial.get('range') : localStorage.getItem('amt.range') || '1h',
    project: initial.get('project') || '',
    timer: null,
    charts: [],
  };
  const panelsEl = document.getElementById('panels');
  const projectEl = document.getElementById('project');

  const { el } = window.AMT;

  function format(value, unit) {
    if (value === null || value === undefined) return '–';
    const n = Number(value);
    if (!Number.isFinite(n)) return String(value);
    const text = n >= 1000 ? n.toLocaleString('en-US') : String(Math.round(n * 100) / 100);
    return unit === 'percent' ? `${text}%` : unit === 'ms' ? `${text} ms` : text;
  }

  /** The trace explorer, filtered like this page plus `extra`. */
  function explore(extra) {
    const params = new URLSearchParams({ range: state.range });
    if (state.project) params.set('project', state.project);
    for (const [k, v] of Object.entries(extra || {})) if (v !== undefined && v !== '') params.set(k, v);
    return `/traces?${params}`;
  }

  /** Where each panel leads in the explorer. */
  const PANEL_LINKS = {
    total: {}, errors: { status: 'ERROR' }, error_rate: { status: 'ERROR' }, p95: { sort: 'duration', order: 'desc' },
    events_over_time: {}, latency_over_time: { sort: 'duration', order: 'desc' }, by_project: {}, top_events: {}, recent_errors: { status: 'ERROR' },
  };
  const TOP_ROWS = 10;

  function cell(panel, column, row) {
    const text = String(row[column]);
    if (column === 'timestamp') {
      const at = Date.parse(text.replace(' ', 'T') + 'Z');
      return el('td', { title: text + ' UTC', text: Number.isFinite(at) ? new Date(at).toLocaleTimeString() : text });
    }
    if (column === 'event') {
      const extra = panel.id === 'recent_errors' ? { name: text, status: 'ERROR', project: row.project } : { name: text };
      return el('td', { title: text }, [el('a', { href: explore(extra), text })]);
    }
    return el('td', { text, title: text, class: typeof row[column] === 'number' ? 'num' : '' });
  }

  function statPanel(panel) {
    const row = panel.rows[0] || {};
    return [el('div', { class: 'value', 'data-testid': `value-${panel.id}`, text: format(row.value, panel.unit) })];
  }

  function tablePanel(panel) {
    if (panel.rows.length === 0) return [el('p', { class: 'muted', text: 'Nothing in this range.' })];
    const columns = Object.keys(panel.rows[0]);
    const rows = panel.id === 'top_events' ? panel.rows.slice(0, TOP_ROWS) : panel.rows;
    const head = el('tr', {}, columns.map((c) => el('th', { text: c, title: c, class: typeof panel.rows[0][c] === 'number' ? 'num' : '' })));
    const body = rows.map((r) => el('tr', {}, columns.map((c) => cell(panel, c, r))));
    const nodes = [el('table', { class: 'fixed', 'data-testid': `table-${panel.id}` }, [el('thead', {}, [head]), el('tbody', {}, body)])];
    // Errors in spans often have log records beside them: the same range and project's error logs.
    if (panel.id === 'recent_errors') nodes.push(el('a', { class: 'more', 'data-testid': 'error-logs', href: `/logs?${new URLSearchParams({ range: state.range, severity: 'error', ...(state.project ? { project: state.project } : {}) })}`, text: 'error logs in Logs ›' }));
    if (panel.id === 'top_events' && panel.rows.length > TOP_ROWS) nodes.push(el('a', { class: 'more', href: explore({}), text: 'more in Traces ›' }));
    else if (panel.id === 'top_events') nodes.push(el('a', { class: 'more', href: explore({}), text: 'all in Traces ›' }));
    return nodes;
  }

  function barPanel(panel) {
    const max = Math.max(1, ...panel.rows.map((r) => Number(r.events)));
    return [
      el(
        'div',
        { class: 'bars', 'data-testid': `bars-${panel.id}` },
        panel.rows.map((r) =>
          el('div', { class: 'bar' }, [
            el('a', { href: explore({ project: String(r.project) }), text: String(r.project), title: String(r.project) }),
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
    // The legend shows the latest bucket's values until the cursor points at another one.
    let latest = -1;
    for (let i = xs.length - 1; i >= 0 && latest < 0; i--) if (columns.slice(1).some((c) => c[i] !== null)) latest = i;
    const chart = new uPlot(
      {
        width,
        height: 200,
        hooks: { setLegend: [(u) => { if (u.legend.idx == null && latest >= 0) u.setLegend({ idx: latest }, false); }] },
        cursor: { drag: { x: true, y: false, setScale: false } },
        series: [{}, ...series.map((s, i) => ({ label: s, stroke: colors[i % colors.length], width: 2, spanGaps: true }))],
        axes: [
          { stroke: '#8b93a7', grid: { stroke: '#2a2f3d' } },
          // Wide enough for the longest label (10,000 was cut to 0,000 with the default width).
          { stroke: '#8b93a7', grid: { stroke: '#2a2f3d' }, size: (u, values) => 16 + 7 * Math.max(3, ...(values || []).map((v) => String(v).length)) },
        ],
        scales: { x: { time: true, min: from, max: to } },
      },
      columns,
      container,
    );
    if (latest >= 0) chart.setLegend({ idx: latest }, false);
    // Dragging across a chart opens that stretch of time in the explorer.
    chart.hooks.setSelect = [
      (u) => {
        if (u.select.width < 3) return;
        const params = new URLSearchParams(explore(PANEL_LINKS[panel.id]).split('?')[1]);
        params.delete('range');
        params.set('from', String(Math.round(u.posToVal(u.select.left, 'x') * 1000)));
        params.set('to', String(Math.round(u.posToVal(u.select.left + u.select.width, 'x') * 1000)));
        location.assign(`/traces?${params}`);
      },
    ];
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
      const title = el('h2', {}, [el('a', { href: explore(PANEL_LINKS[panel.id]), title: `${panel.title}: open in Traces`, text: panel.title })]);
      const box = el('section', { class: `panel ${panel.kind === 'stat' ? 'stat' : ''}`, 'data-panel': panel.id, style: `grid-column: span ${span}` }, [title]);
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
    projectEl.textContent = '';
    projectEl.appendChild(el('option', { value: '', text: 'All projects' }));
    for (const p of state.project && !projects.includes(state.project) ? [...projects, state.project] : projects) projectEl.appendChild(el('option', { value: p, text: p }));
    projectEl.value = state.project;
  }

  function remember(push) {
    const params = new URLSearchParams({ range: state.range });
    if (state.project) params.set('project', state.project);
    if (`?${params}` !== location.search) history[push ? 'pushState' : 'replaceState'](null, '', `/?${params}`);
    document.querySelectorAll('[data-range]').forEach((b) => b.classList.toggle('active', b.dataset.range === state.range));
    window.AMT.navLinks(params);
    const nav = document.getElementById('nav-traces');
    if (nav) nav.href = explore({});
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
      state.range = button.dataset.range;
      localStorage.setItem('amt.range', state.range);
      remember(true);
      refresh();
    });
  });
  projectEl.addEventListener('change', () => {
    state.project = projectEl.value;
    remember(true);
    refresh();
  });
  window.addEventListener('popstate', () => {
    const params = new URLSearchParams(location.search);
    state.range = RANGES.includes(params.get('range')) ? params.get('range') : '1h';
    state.project = params.get('project') || '';
    projectEl.value = state.project;
    remember(false);
    refresh();
  });
  document.getElementById('auto-refresh').addEventListener('change', schedule);
  window.addEventListener('resize', () => refresh());

  remember(false);
  loadProjects().then(refresh);
  schedule();
})();
