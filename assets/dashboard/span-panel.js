// The one-trace page's side panel: a span's facts, attributes, resource, events (an exception with its stack
// trace), links to other traces, and its logs.
(function () {
  'use strict';
  const { el, duration, time, logRow } = window.AMT;

  function section(title, children) {
    return el('section', { class: 'detail-section' }, [el('h3', { text: title }), ...children]);
  }

  function keyValues(map, testid) {
    const keys = Object.keys(map || {}).sort();
    if (keys.length === 0) return el('p', { class: 'muted', text: 'none' });
    return el('table', { class: 'kv fixed', 'data-testid': testid }, [el('tbody', {}, keys.map((k) => el('tr', {}, [el('th', { text: k, title: k }), el('td', { text: map[k], title: map[k] })])))]);
  }

  function eventView(e) {
    const a = e.attributes || {};
    if (e.name === 'exception') {
      return el('div', { class: 'event exception', 'data-testid': 'exception' }, [
        el('div', {}, [el('strong', { class: 'error', text: a['exception.type'] || 'exception' }), ': ', el('span', { text: a['exception.message'] || '' })]),
        el('div', { class: 'muted', text: e.timestamp }),
        a['exception.stacktrace'] ? el('pre', { class: 'stack', text: a['exception.stacktrace'] }) : null,
      ]);
    }
    return el('div', { class: 'event' }, [el('strong', { text: e.name }), el('div', { class: 'muted', text: e.timestamp }), keyValues(a)]);
  }

  /** Draws `span` into `container`; `context` gives its parent, the trace's start, the store's features and its logs. */
  function spanPanel(detail, s, context) {
    detail.textContent = '';
    if (!s) return detail.appendChild(el('p', { class: 'muted', text: 'Select a span to see its attributes, events, links and logs.' }));
    const parent = context.parent;
    const facts = [
      ['Service', s.service_name], ['Status', s.status_code + (s.status_message ? `: ${s.status_message}` : '')], ['Duration', duration(s.duration_ms)],
      ['Start', `${time(s.start_ms)} (+${duration(s.start_ms - context.traceStart)})`], ['Kind', s.span_kind], ['Span id', s.span_id],
    ];
    detail.appendChild(el('div', { class: 'detail-head' }, [el('h2', { text: s.span_name, title: s.span_name }), el('button', { type: 'button', class: 'link', id: 'close-detail', text: '✕', 'aria-label': 'close', on: { click: () => context.onSelect(null) } })]));
    detail.appendChild(el('dl', { class: 'facts-list' }, facts.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v, title: v, class: k === 'Status' && s.status_code === 'ERROR' ? 'error' : '' })])));
    if (parent) detail.appendChild(el('p', {}, ['Parent: ', el('button', { type: 'button', class: 'link inline', 'data-testid': 'parent-link', text: parent.span_name, on: { click: () => context.onSelect(parent.span_id) } })]));
    detail.appendChild(section('Attributes', [keyValues(s.attributes, 'attributes')]));
    detail.appendChild(section('Resource', [keyValues({ 'service.name': s.service_name, 'project.name': s.project_name || '', 'project.version': s.project_version || '', 'deployment.environment': s.environment || '' }, 'resource')]));
    const events = s.events || [];
    const links = s.links || [];
    if (context.features.events) detail.appendChild(section(`Events (${events.length})`, events.length ? events.map(eventView) : [el('p', { class: 'muted', text: 'none' })]));
    if (context.features.links) {
      detail.appendChild(section(`Links (${links.length})`, links.length ? links.map((l) => el('div', { class: 'link-item' }, [
        el('a', { href: `/traces/${l.trace_id}?span=${l.span_id}`, 'data-testid': 'span-link', text: `${l.trace_id.slice(0, 8)}… / ${l.span_id}` }),
        Object.keys(l.attributes || {}).length ? keyValues(l.attributes) : null,
      ])) : [el('p', { class: 'muted', text: 'none' })]));
    }
    if (context.features.logs) {
      const logs = context.logs;
      detail.appendChild(section(`Logs (${logs.length})`, logs.length ? logs.map(logRow) : [el('p', { class: 'muted', text: 'none for this span' })]));
    }
  }

  Object.assign(window.AMT, { spanPanel });
})();
