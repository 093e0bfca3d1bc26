// The one-trace page: a virtualised waterfall (only the rows in view are in the DOM, so 10,000 spans stay fast),
// nested and collapsible, with the critical path and errors marked; a side panel for the selected span; the
// trace's logs. The selected span is in the query string (?span=), so a link opens the trace at that span.
(function () {
  'use strict';
  const { el, duration, time, api, colour, showError, spanPanel, logRow } = window.AMT;
  const ROW = 24;
  const OVERSCAN = 10;
  const traceId = decodeURIComponent(location.pathname.split('/')[2] || '');
  const viewport = document.getElementById('waterfall');
  const spacer = document.getElementById('spacer');
  const detail = document.getElementById('detail');
  const state = { view: null, spans: [], byId: new Map(), children: new Map(), roots: [], depth: new Map(), critical: new Set(), collapsed: new Set(), rows: [], start: 0, total: 1, selected: null, logs: [], features: {} };

  /** Tree, depths and the critical path (from the root, always the child that ends last), without recursion. */
  function build(spans) {
    state.spans = spans;
    state.byId = new Map(spans.map((s) => [s.span_id, s]));
    state.children = new Map();
    state.roots = [];
    for (const s of spans) {
      if (s.parent_span_id && state.byId.has(s.parent_span_id) && s.parent_span_id !== s.span_id) {
        if (!state.children.has(s.parent_span_id)) state.children.set(s.parent_span_id, []);
        state.children.get(s.parent_span_id).push(s);
      } else state.roots.push(s);
    }
    let end = -Infinity;
    state.start = Infinity;
    for (const s of spans) {
      state.start = Math.min(state.start, s.start_ms);
      end = Math.max(end, s.start_ms + s.duration_ms);
    }
    state.total = Math.max(1, end - state.start);
    const walk = (from) => {
      const stack = from.map((s) => [s, 0]);
      while (stack.length) {
        const [s, d] = stack.pop();
        if (state.depth.has(s.span_id)) continue;
        state.depth.set(s.span_id, d);
        for (const c of state.children.get(s.span_id) || []) stack.push([c, d + 1]);
      }
    };
    walk(state.roots);
    // Spans whose parents form a cycle (bad data) are reached from no root: each cycle is shown from its earliest span.
    for (const s of spans) {
      if (state.depth.has(s.span_id)) continue;
      state.roots.push(s);
      walk([s]);
    }
    const endOf = (s) => s.start_ms + s.duration_ms;
    let node = state.roots.reduce((a, b) => (endOf(b) - b.start_ms > endOf(a) - a.start_ms ? b : a), state.roots[0]);
    const seen = new Set();
    while (node && !seen.has(node.span_id)) {
      seen.add(node.span_id);
      state.critical.add(node.span_id);
      const kids = state.children.get(node.span_id) || [];
      node = kids.reduce((a, b) => (!a || endOf(b) > endOf(a) || (endOf(b) === endOf(a) && b.start_ms > a.start_ms) ? b : a), null);
    }
  }

  /** The rows in display order: depth first, children in start order, skipping what is collapsed. */
  function flatten() {
    const rows = [];
    const stack = [...state.roots].reverse();
    const seen = new Set();
    while (stack.length) {
      const s = stack.pop();
      if (seen.has(s.span_id)) continue;
      seen.add(s.span_id);
      rows.push(s);
      if (state.collapsed.has(s.span_id)) continue;
      const kids = state.children.get(s.span_id) || [];
      for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i]);
    }
    state.rows = rows;
    spacer.style.height = `${rows.length * ROW}px`;
    // As tall as the trace, up to the window: a short trace leaves no empty box, a long one scrolls inside.
    viewport.style.height = `${Math.max(4 * ROW, Math.min(rows.length * ROW + 2, Math.max(280, window.innerHeight - 230)))}px`;
  }

  /** The stretch of the trace on screen, in ms from its start: all of it, or what was zoomed into. */
  function view() {
    return state.view || { from: 0, to: state.total };
  }

  function drawAxis() {
    const axis = document.getElementById('axis');
    axis.textContent = '';
    const { from, to } = view();
    const track = el('div', { class: 'axis-track', title: 'drag across the time axis to zoom', 'data-testid': 'axis' });
    for (const f of [0, 0.25, 0.5, 0.75, 1]) track.appendChild(el('span', { class: 'tick', style: `left:${f * 100}%`, text: duration(Math.round(from + f * (to - from))) }));
    axis.appendChild(el('div', { class: 'axis-label' }, [state.view ? el('button', { type: 'button', class: 'link inline', id: 'reset-zoom', text: 'reset zoom', on: { click: () => zoom(null) } }) : 'span']));
    axis.appendChild(track);
  }

  /** Shows `range` ({from, to} in ms from the trace's start) or, with null, the whole trace; kept in the URL. */
  function zoom(range) {
    state.view = range && range.to - range.from >= 1 ? { from: Math.max(0, range.from), to: Math.min(state.total, range.to) } : null;
    const params = new URLSearchParams(location.search);
    if (state.view) params.set('zoom', `${Math.round(state.view.from)}-${Math.round(state.view.to)}`);
    else params.delete('zoom');
    history.replaceState(null, '', `${location.pathname}${params.toString() ? `?${params}` : ''}`);
    drawAxis();
    draw(true);
  }

  /** Dragging across the axis selects a stretch of time to zoom into. */
  function listenForZoom() {
    const axis = document.getElementById('axis');
    axis.addEventListener('mousedown', (down) => {
      const track = axis.querySelector('.axis-track');
      if (!track || !track.contains(down.target)) return;
      down.preventDefault();
      const box = track.getBoundingClientRect();
      const at = (x) => Math.min(1, Math.max(0, (x - box.left) / box.width));
      const band = el('div', { class: 'zoom-band' });
      track.appendChild(band);
      const start = at(down.clientX);
      const move = (e) => {
        const a = Math.min(start, at(e.clientX));
        const b = Math.max(start, at(e.clientX));
        band.style.left = `${a * 100}%`;
        band.style.width = `${(b - a) * 100}%`;
      };
      const up = (e) => {
        window.removeEventListener('mousemove', move);
        window.removeEventListener('mouseup', up);
        band.remove();
        const a = Math.min(start, at(e.clientX));
        const b = Math.max(start, at(e.clientX));
        if ((b - a) * box.width < 4) return;
        const { from, to } = view();
        zoom({ from: from + a * (to - from), to: from + b * (to - from) });
      };
      window.addEventListener('mousemove', move);
      window.addEventListener('mouseup', up);
    });
  }

  function rowFor(s, index) {
    const depth = state.depth.get(s.span_id) || 0;
    const kids = state.children.get(s.span_id) || [];
    const { from, to } = view();
    // Bars are clipped to the stretch on screen; a span wholly outside it keeps its row but has no bar.
    const rawLeft = ((s.start_ms - state.start - from) / (to - from)) * 100;
    const rawRight = rawLeft + (s.duration_ms / (to - from)) * 100;
    const inView = rawRight >= 0 && rawLeft <= 100;
    const left = Math.max(0, Math.min(100, rawLeft));
    const width = Math.max(0, Math.min(100, rawRight) - left);
    const error = s.status_code === 'ERROR';
    const classes = ['span-row', error ? 'error' : '', state.critical.has(s.span_id) ? 'critical' : '', state.selected === s.span_id ? 'selected' : ''].join(' ');
    const toggle = kids.length
      ? el('button', { type: 'button', class: 'toggle', 'aria-label': state.collapsed.has(s.span_id) ? 'expand' : 'collapse', 'aria-expanded': String(!state.collapsed.has(s.span_id)), text: state.collapsed.has(s.span_id) ? '▸' : '▾', 'data-toggle': s.span_id })
      : el('span', { class: 'toggle' });
    return el('div', { class: classes, style: `top:${index * ROW}px`, role: 'row', 'data-testid': 'span-row', 'data-span-id': s.span_id, 'data-depth': depth, 'data-index': index, title: `${s.span_name} · ${s.service_name} · ${duration(s.duration_ms)}` }, [
      el('div', { class: 'label', style: `padding-left:${Math.min(depth, 30) * 12}px` }, [
        toggle,
        error ? el('span', { class: 'error-mark', text: '●', title: 'status ERROR' }) : null,
        el('span', { class: 'service', style: `border-color:${colour(s.service_name)}`, text: s.service_name }),
        el('span', { class: 'name', text: s.span_name }),
        kids.length && state.collapsed.has(s.span_id) ? el('span', { class: 'muted count', text: ` +${kids.length}` }) : null,
      ]),
      el('div', { class: 'track' }, [
        inView ? el('div', { class: 'bar', style: `left:${left}%;width:max(2px, ${width}%);background:${error ? 'var(--error)' : colour(s.service_name)}` }) : null,
        el('span', { class: 'bar-label', style: left > 70 ? `right:${100 - left}%` : `left:calc(${left + width}% + 4px)`, text: duration(s.duration_ms) }),
      ]),
    ]);
  }

  let drawn = '';
  function draw(force) {
    const first = Math.max(0, Math.floor(viewport.scrollTop / ROW) - OVERSCAN);
    const last = Math.min(state.rows.length, Math.ceil((viewport.scrollTop + viewport.clientHeight) / ROW) + OVERSCAN);
    const key = `${first}:${last}`;
    if (!force && key === drawn) return;
    drawn = key;
    const fragment = document.createDocumentFragment();
    fragment.appendChild(spacer);
    for (let i = first; i < last; i++) fragment.appendChild(rowFor(state.rows[i], i));
    viewport.textContent = '';
    viewport.appendChild(fragment);
  }

  function showDetail(s) {
    spanPanel(detail, s, {
      parent: s ? state.byId.get(s.parent_span_id) : undefined,
      traceStart: state.start,
      features: state.features,
      logs: s ? state.logs.filter((l) => l.span_id === s.span_id) : [],
      onSelect: (id) => select(id, true),
    });
  }

  /** Selects a span: expands its ancestors, scrolls it into view, shows it, and puts it in the URL. */
  function select(spanId, scroll) {
    state.selected = spanId && state.byId.has(spanId) ? spanId : null;
    const params = new URLSearchParams(location.search);
    if (state.selected) params.set('span', state.selected);
    else params.delete('span');
    history.replaceState(null, '', `${location.pathname}${params.toString() ? `?${params}` : ''}`);
    if (state.selected) {
      let p = state.byId.get(state.selected).parent_span_id;
      let opened = false;
      const seen = new Set();
      while (p && state.byId.has(p) && !seen.has(p)) {
        seen.add(p);
        if (state.collapsed.delete(p)) opened = true;
        p = state.byId.get(p).parent_span_id;
      }
      if (opened) flatten();
      if (scroll) {
        const index = state.rows.findIndex((r) => r.span_id === state.selected);
        if (index >= 0 && (index * ROW < viewport.scrollTop || (index + 1) * ROW > viewport.scrollTop + viewport.clientHeight)) viewport.scrollTop = Math.max(0, index * ROW - viewport.clientHeight / 3);
      }
    }
    showDetail(state.selected ? state.byId.get(state.selected) : null);
    draw(true);
  }

  function drawFacts(body) {
    const root = state.roots[0];
    const errors = body.spans.filter((s) => s.status_code === 'ERROR').length;
    const services = new Set(body.spans.map((s) => s.service_name));
    document.getElementById('title').textContent = root ? root.span_name : 'Trace';
    document.title = `${root ? root.span_name : 'Trace'} · automagik-telemetry`;
    const facts = document.getElementById('facts');
    facts.textContent = '';
    const fact = (k, v, cls) => el('div', { class: `fact ${cls || ''}` }, [el('span', { class: 'muted', text: k }), el('strong', { text: v, title: v })]);
    facts.append(
      fact('Trace', traceId), fact('Start', time(state.start)), fact('Duration', duration(state.total)), fact('Spans', body.spans.length.toLocaleString('en-US')),
      fact('Services', [...services].join(', ')), fact('Errors', String(errors), errors ? 'error' : ''),
    );
    if (body.truncated) facts.appendChild(el('div', { class: 'fact error', text: `Only the first ${body.spans.length.toLocaleString('en-US')} spans are shown.` }));
  }

  function drawLogs() {
    const panel = document.getElementById('logs-panel');
    panel.hidden = !state.features.logs;
    const holder = document.getElementById('logs');
    holder.textContent = '';
    if (state.logsError) holder.appendChild(el('p', { class: 'error', 'data-testid': 'logs-error', text: `The logs could not be read: ${state.logsError}` }));
    else if (state.logs.length === 0) holder.appendChild(el('p', { class: 'muted', text: 'No logs carry this trace id.' }));
    for (const l of state.logs) holder.appendChild(logRow(l));
    // The log explorer, filtered to this trace, an hour either side of it.
    const open = document.getElementById('logs-open');
    const id = location.pathname.slice('/traces/'.length);
    if (open && Number.isFinite(state.start)) open.href = `/logs?${new URLSearchParams({ trace_id: id, from: String(state.start - 3_600_000), to: String(state.start + state.total + 3_600_000) })}`;
  }

  viewport.addEventListener('scroll', () => requestAnimationFrame(() => draw(false)));
  viewport.addEventListener('click', (e) => {
    const toggle = e.target.closest('[data-toggle]');
    if (toggle) {
      const id = toggle.dataset.toggle;
      if (!state.collapsed.delete(id)) state.collapsed.add(id);
      flatten();
      return draw(true);
    }
    const row = e.target.closest('[data-span-id]');
    if (row) select(row.dataset.spanId, false);
  });
  document.getElementById('expand-all').addEventListener('click', () => {
    state.collapsed.clear();
    flatten();
    draw(true);
  });
  document.getElementById('collapse-all').addEventListener('click', () => {
    for (const s of state.roots) for (const c of state.children.get(s.span_id) || []) if (state.children.has(c.span_id)) state.collapsed.add(c.span_id);
    flatten();
    draw(true);
  });
  // Keyboard: up/down move the selection, left folds (or goes to the parent), right unfolds.
  viewport.addEventListener('keydown', (e) => {
    if (!['ArrowDown', 'ArrowUp', 'ArrowLeft', 'ArrowRight'].includes(e.key) || state.rows.length === 0) return;
    e.preventDefault();
    const index = state.rows.findIndex((r) => r.span_id === state.selected);
    const current = state.rows[index];
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      const next = index < 0 ? 0 : Math.min(state.rows.length - 1, Math.max(0, index + (e.key === 'ArrowDown' ? 1 : -1)));
      return select(state.rows[next].span_id, true);
    }
    if (!current) return;
    const hasKids = state.children.has(current.span_id);
    if (e.key === 'ArrowRight' && hasKids && state.collapsed.delete(current.span_id)) {
      flatten();
      return draw(true);
    }
    if (e.key === 'ArrowLeft') {
      if (hasKids && !state.collapsed.has(current.span_id)) {
        state.collapsed.add(current.span_id);
        flatten();
        return draw(true);
      }
      if (state.byId.has(current.parent_span_id)) select(current.parent_span_id, true);
    }
  });
  window.addEventListener('resize', () => draw(true));
  listenForZoom();
  const back = document.referrer && new URL(document.referrer).pathname === '/traces' && new URL(document.referrer).origin === location.origin ? document.referrer : '/traces';
  document.getElementById('back-to-search').href = back;

  /** Paints the outline first (it loads several times faster), then fills in attributes, events, links and logs. */
  async function load() {
    const timings = { script: Math.round(performance.now()) };
    const id = encodeURIComponent(traceId);
    let outline = null;
    try {
      outline = await api(`/api/traces/${id}?fields=outline`);
    } catch (error) {
      if (error.status !== 404) throw error;
    }
    timings.outline = Math.round(performance.now());
    if (outline) {
      const names = outline.columns;
      outline.spans = outline.spans.map((row) => {
        const span = {};
        for (let i = 0; i < names.length; i++) span[names[i]] = row[i];
        return span;
      });
      build(outline.spans);
      flatten();
      drawFacts(outline);
      const wantedZoom = /^(\d+)-(\d+)$/.exec(new URLSearchParams(location.search).get('zoom') || '');
      if (wantedZoom && Number(wantedZoom[2]) > Number(wantedZoom[1])) state.view = { from: Number(wantedZoom[1]), to: Math.min(state.total, Number(wantedZoom[2])) };
      drawAxis();
      draw(true);
      await new Promise((resolve) => requestAnimationFrame(resolve));
      timings.paint = Math.round(performance.now());
      document.body.setAttribute('data-first-paint-ms', String(timings.paint));
    }
    // A trace with logs but no spans (yet) still has its logs shown.
    const body = await api(`/api/traces/${id}`);
    timings.detail = Math.round(performance.now());
    state.features = body.features;
    state.logs = body.logs;
    state.logsError = body.logs_error;
    if (!outline && body.spans.length) {
      build(body.spans);
      flatten();
      drawFacts(body);
      drawAxis();
    } else for (const s of body.spans) if (state.byId.has(s.span_id)) Object.assign(state.byId.get(s.span_id), s);
    drawLogs();
    const wanted = new URLSearchParams(location.search).get('span');
    if (wanted) select(wanted, true);
    else draw(true);
    document.body.setAttribute('data-timings', JSON.stringify(timings));
  }

  load()
    .catch((error) => {
      showError(error.status === 404 ? `No trace ${traceId} in the store (it may have expired, or not arrived yet).` : `Could not load the trace: ${error.message}`);
    })
    .finally(() => document.body.setAttribute('data-loaded', traceId));
})();
