// The metrics explorer: the query string is the state (metric, range, filters, split); the name list, the form and
// the chart are drawn from it, and every change pushes a new URL so Back and shared links work.
(function () {
  'use strict';
  const { el, api, showError, toLocalInput, navLinks, wireFilterControls } = window.AMT;
  const FIELDS = ['project', 'service', 'environment', 'top'];
  const KIND_TEXT = { value: 'values', rate: 'rate per second', quantiles: 'p50 / p95 / p99 from bucket counts', mean: 'mean observation' };
  const STAT_DASH = { p50: [], p95: [6, 3], p99: [2, 3] };
  const PALETTE = ['#5b8def', '#f06b6b', '#52c41a', '#f5c542', '#b37feb', '#36cfc9', '#ff9c6e', '#95de64', '#ff85c0', '#69c0ff'];
  let chart = null;
  let last = null;
  let searchTimer = null;

  function current() {
    return new URLSearchParams(location.search);
  }

  function go(params) {
    const query = params.toString();
    history.pushState(null, '', query ? `/metrics?${query}` : '/metrics');
    load();
  }

  function fillForm(params) {
    for (const f of FIELDS) document.getElementById(`f-${f}`).value = params.get(f) || '';
    const custom = params.has('from') || params.has('to');
    const range = params.get('range') || '1h';
    document.querySelectorAll('[data-range]').forEach((b) => b.classList.toggle('active', !custom && b.dataset.range === range));
  }

  function formParams(base) {
    const params = new URLSearchParams();
    for (const key of ['range', 'from', 'to', 'name']) if (base.has(key)) params.set(key, base.get(key));
    for (const f of FIELDS) {
      const value = document.getElementById(`f-${f}`).value.trim();
      if (value) params.set(f, value);
    }
    const by = document.getElementById('f-by').value;
    if (by && params.has('name')) params.set('by', by);
    return params;
  }

  /** The window and filters of `params`, for the name list (no metric, no split). */
  function listParams(params) {
    const out = new URLSearchParams();
    for (const key of ['range', 'from', 'to', 'project', 'service', 'environment']) if (params.has(key)) out.set(key, params.get(key));
    const q = document.getElementById('m-search').value.trim();
    if (q) out.set('q', q);
    return out;
  }

  async function loadNames(params) {
    const listEl = document.getElementById('m-list');
    const result = await api(`/api/metrics?${listParams(params)}`);
    listEl.textContent = '';
    const chosen = params.get('name');
    for (const m of result.metrics) {
      const next = new URLSearchParams(params);
      next.set('name', m.name);
      next.delete('by');
      listEl.appendChild(
        el('li', {}, [
          el('a', { href: `/metrics?${next}`, class: m.name === chosen ? 'active' : '', 'data-metric': m.name, title: `${m.name} · ${m.type}${m.unit ? ` · ${m.unit}` : ''} · ${m.points} points`, on: { click: (e) => { e.preventDefault(); go(next); } } }, [
            el('span', { class: 'metric-name', text: m.name }),
            el('span', { class: 'muted', text: m.type }),
          ]),
        ]),
      );
    }
    if (result.metrics.length === 0) listEl.appendChild(el('li', { class: 'muted', text: 'No metrics in this range.' }));
  }

  function seriesLabel(s, result) {
    const stat = result.kind === 'quantiles' ? s.stat : '';
    if (!result.by) return stat || result.name;
    const group = `${result.by}=${s.group === '' ? '(none)' : s.group}`;
    return stat ? `${group} ${stat}` : group;
  }

  function drawChart(result) {
    const holder = document.getElementById('chart');
    if (chart) chart.destroy();
    chart = null;
    holder.textContent = '';
    holder.dataset.series = String(result.series.length);
    holder.dataset.from = String(result.from);
    holder.dataset.to = String(result.to);
    if (result.series.every((s) => s.points.length === 0)) {
      holder.appendChild(el('p', { class: 'muted', text: 'No data points of this metric in the range.' }));
      return;
    }
    const times = [...new Set(result.series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
    const index = new Map(times.map((t, i) => [t, i]));
    const columns = [times.map((t) => t / 1000)];
    for (const s of result.series) {
      const ys = times.map(() => null);
      for (const [t, v] of s.points) ys[index.get(t)] = v;
      columns.push(ys);
    }
    const unit = result.kind === 'rate' ? `${result.unit || ''}/s` : result.unit || '';
    const width = Math.max(200, holder.clientWidth);
    chart = new uPlot(
      {
        width,
        height: 300,
        cursor: { drag: { x: true, y: false, setScale: false } },
        series: [
          {},
          ...result.series.map((s, i) => ({
            label: seriesLabel(s, result),
            // One colour per group (its quantiles told apart by dashes); unsplit quantiles one colour each.
            stroke: PALETTE[(result.kind === 'quantiles' && result.by ? Math.floor(i / 3) : i) % PALETTE.length],
            width: 2,
            dash: STAT_DASH[s.stat],
            spanGaps: true,
            value: (u, v) => (v == null ? '–' : `${Math.round(v * 1000) / 1000}${unit ? ` ${unit}` : ''}`),
          })),
        ],
        axes: [
          { stroke: '#8b93a7', grid: { stroke: '#2a2f3d' } },
          { stroke: '#8b93a7', grid: { stroke: '#2a2f3d' }, size: (u, values) => 16 + 7 * Math.max(3, ...(values || []).map((v) => String(v).length)) },
        ],
        scales: { x: { time: true, min: result.from / 1000, max: result.to / 1000 } },
        hooks: {
          // The legend shows the latest values until the cursor points at another time.
          setLegend: [(u) => { if (u.legend.idx == null) u.setLegend({ idx: times.length - 1 }, false); }],
          setSelect: [
            (u) => {
              if (u.select.width < 3) return;
              const params = current();
              params.delete('range');
              params.set('from', String(Math.round(u.posToVal(u.select.left, 'x') * 1000)));
              params.set('to', String(Math.round(u.posToVal(u.select.left + u.select.width, 'x') * 1000)));
              go(params);
            },
          ],
        },
      },
      columns,
      holder,
    );
    chart.setLegend({ idx: times.length - 1 }, false);
  }

  function fillSplit(result, params) {
    const select = document.getElementById('f-by');
    select.textContent = '';
    select.appendChild(el('option', { value: '', text: 'no split' }));
    const keys = result ? result.attribute_keys : [];
    const by = params.get('by');
    for (const k of by && !keys.includes(by) ? [...keys, by] : keys) select.appendChild(el('option', { value: k, text: k }));
    select.value = by || '';
    select.disabled = !result;
  }

  async function load() {
    const params = current();
    fillForm(params);
    document.body.removeAttribute('data-loaded');
    try {
      const name = params.get('name');
      const [, result] = await Promise.all([loadNames(params), name ? api(`/api/metrics?${params}`) : Promise.resolve(null)]);
      last = result;
      fillSplit(result, params);
      const custom = params.has('from') || params.has('to');
      document.getElementById('from').value = custom && result ? toLocalInput(result.from) : '';
      document.getElementById('to').value = custom && result ? toLocalInput(result.to) : '';
      document.getElementById('m-title').textContent = name || 'Pick a metric';
      if (result) {
        const about = [result.type || 'no points', KIND_TEXT[result.kind], result.unit ? `unit ${result.unit}` : '', result.source === 'metric_points_hourly' ? 'from the hourly rollup' : 'from raw points', result.other_groups ? `${result.other_groups} more series not shown (top ${params.get('top') || 5})` : '', result.description].filter(Boolean);
        document.getElementById('m-about').textContent = about.join(' · ');
        document.getElementById('chart').dataset.kind = result.kind;
        drawChart(result);
      } else {
        document.getElementById('m-about').textContent = 'Pick a metric from the list to chart it.';
        if (chart) chart.destroy();
        chart = null;
        document.getElementById('chart').textContent = '';
      }
      showError('');
    } catch (error) {
      showError(`Could not load: ${error.message}`);
    }
    navLinks(params);
    document.body.setAttribute('data-loaded', params.toString());
  }

  document.getElementById('f-by').addEventListener('change', () => go(formParams(current())));
  wireFilterControls({ current, formParams, go, keep: ['range', 'from', 'to', 'name'] });
  document.getElementById('m-search').addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      document.body.removeAttribute('data-names');
      loadNames(current()).then(() => document.body.setAttribute('data-names', document.getElementById('m-search').value.trim()), (error) => showError(`Could not search: ${error.message}`));
    }, 200);
  });
  window.addEventListener('popstate', load);
  let resizeTimer = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => last && drawChart(last), 150);
  });
  load();
})();
