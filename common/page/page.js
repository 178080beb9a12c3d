// The live status page of mds-coordinator and mdp-pipeline (issue 15).
//
// Reads the serving service's /status (and /metrics for counters) every
// second and draws what it finds: which service it is comes from the JSON
// itself ("service":"market-data-pipeline", or a "coordinator_id"). Fields
// are optional: a field the service does not send is left out, one added
// later shows in "Every field of /status". Rates come from /status when it
// has them, otherwise from successive counter values. No external
// resources, no innerHTML (every text goes through textContent), no inline
// style: the page runs under a Content-Security-Policy of 'self'.
'use strict';

(function () {
  const PERIOD_MS = 1000; // refresh period
  const HISTORY_SECONDS = 120; // what the charts show
  const TRANSITIONS_MAX = 50; // rows kept in the transitions table
  const RATE_WINDOW_MS = 5000; // rates are averaged over this
  const RAW_ROWS_MAX = 300; // rows of "Every field of /status"
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const LEVEL_RANK = {ok: 0, soft: 1, hard: 2};

  const page = {
    kind: null, // 'coordinator' or 'pipeline'
    history: [], // {t, values: {name: number}} for the charts
    counters: [], // {t, counters} of the last RATE_WINDOW_MS, for rates
    seen: {}, // what -> last value, for transitions
    seenSince: {}, // what -> time the page first saw the current value
    transitions: [],
    serverTransitions: new Set(),
    failures: 0,
  };

  // ---- small helpers ---------------------------------------------------
  function $(id) {
    return document.getElementById(id);
  }

  function el(tag, text, attributes) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    for (const [name, value] of Object.entries(attributes || {}))
      node.setAttribute(name, value);
    return node;
  }

  function svg(tag, attributes) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attributes || {}))
      node.setAttribute(name, String(value));
    return node;
  }

  function isNumber(value) {
    return typeof value === 'number' && isFinite(value);
  }

  // The first argument that is a number, else undefined.
  function firstNumber(...values) {
    return values.find(isNumber);
  }

  function firstText(...values) {
    return values.find((v) => typeof v === 'string' && v.length > 0);
  }

  function setText(id, text, value) {
    const node = $(id);
    if (!node) return;
    node.textContent = text === undefined || text === null ? '—' : String(text);
    if (value !== undefined) node.setAttribute('data-value', String(value));
  }

  function formatNumber(value, digits) {
    if (!isNumber(value)) return '—';
    if (Math.abs(value) >= 1000 || Number.isInteger(value))
      return Math.round(value).toLocaleString('en-US');
    return value.toFixed(digits === undefined ? 1 : digits);
  }

  function formatDuration(seconds) {
    if (!isNumber(seconds) || seconds < 0) return '—';
    if (seconds < 60) return seconds.toFixed(seconds < 10 ? 1 : 0) + ' s';
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + ' min ' + Math.floor(seconds % 60) + ' s';
    return Math.floor(minutes / 60) + ' h ' + (minutes % 60) + ' min';
  }

  function clock(t) {
    return new Date(t).toLocaleTimeString('en-GB', {hour12: false});
  }

  function setLevel(id, level) {
    const node = $(id);
    node.textContent = level || '—';
    node.setAttribute('data-value', level || '');
    node.setAttribute('data-level', level || 'unknown');
  }

  function fillTable(id, rows) {
    const table = $(id);
    table.replaceChildren();
    for (const [name, value] of rows) {
      if (value === undefined || value === null || value === '') continue;
      const tr = el('tr');
      tr.append(el('th', name), el('td', value));
      table.append(tr);
    }
  }

  // ---- /metrics --------------------------------------------------------
  // {name: sum over its series} plus {'name{labels}': value} and build info.
  function parseMetrics(text) {
    const values = {};
    for (const line of text.split('\n')) {
      if (!line || line[0] === '#') continue;
      const space = line.lastIndexOf(' ');
      if (space < 0) continue;
      const key = line.slice(0, space);
      const value = Number(line.slice(space + 1));
      if (!isFinite(value)) continue;
      values[key] = value;
      const brace = key.indexOf('{');
      if (brace > 0) {
        const name = key.slice(0, brace);
        values[name] = (values[name] || 0) + value;
      }
      const version = /_build_info\{.*version="([^"]*)"/.exec(key);
      if (version) values.__version = version[1];
    }
    return values;
  }

  // Per-second rates of counters over the last RATE_WINDOW_MS (a smoother
  // figure than between two polls); a counter that went down (a restart)
  // gives no rate until it has two samples again.
  function counterRates(now, counters) {
    page.counters.push({t: now, counters});
    while (page.counters.length > 2 &&
           page.counters[1].t <= now - RATE_WINDOW_MS)
      page.counters.shift();
    const rates = {};
    const oldest = page.counters[0];
    const seconds = (now - oldest.t) / 1000;
    if (page.counters.length < 2 || seconds <= 0) return rates;
    for (const [name, value] of Object.entries(counters)) {
      const before = oldest.counters[name];
      if (isNumber(value) && isNumber(before) && value >= before)
        rates[name] = (value - before) / seconds;
    }
    return rates;
  }

  // ---- transitions -----------------------------------------------------
  // Notes a change of `what` (a level, a pause) seen between two polls.
  function observe(what, value, now, detail) {
    if (value === undefined || value === null) return;
    const before = page.seen[what];
    if (before === undefined) {
      page.seen[what] = value;
      page.seenSince[what] = now;
      return;
    }
    if (before === value) return;
    page.seen[what] = value;
    page.seenSince[what] = now;
    addTransition({t: now, what, from: before, to: value, detail});
  }

  function addTransition(row) {
    page.transitions.unshift(row);
    page.transitions.length = Math.min(page.transitions.length,
                                       TRANSITIONS_MAX);
  }

  // Transitions the service itself reports (a later /status may list them).
  function serverTransitions(list, now) {
    if (!Array.isArray(list)) return;
    for (const item of list) {
      if (!item || typeof item !== 'object') continue;
      const key = JSON.stringify(item);
      if (page.serverTransitions.has(key)) continue;
      page.serverTransitions.add(key);
      const t = firstNumber(item.at_ms, item.time_ms,
                            isNumber(item.at) ? item.at * 1000 : undefined);
      addTransition({t: t || now, what: 'level (reported)',
                     from: item.from, to: item.to || item.level,
                     detail: firstText(item.reason, item.hint) || ''});
    }
  }

  function renderTransitions() {
    const body = $('transitions').tBodies[0];
    body.replaceChildren();
    if (page.transitions.length === 0) {
      const tr = el('tr');
      tr.append(el('td', 'none yet', {colspan: '5', class: 'muted'}));
      body.append(tr);
      return;
    }
    for (const row of page.transitions) {
      const tr = el('tr', null, {'data-what': row.what});
      const from = el('td', row.from, {'data-level': String(row.from)});
      const to = el('td', row.to, {'data-level': String(row.to)});
      tr.append(el('td', clock(row.t)), el('td', row.what), from, to,
                el('td', row.detail || ''));
      body.append(tr);
    }
  }

  // ---- charts ----------------------------------------------------------
  const CHART = {width: 600, height: 160, left: 46, right: 8, top: 8,
                 bottom: 18};

  function remember(now, values) {
    page.history.push({t: now, values});
    while (page.history.length &&
           page.history[0].t < now - HISTORY_SECONDS * 1000)
      page.history.shift();
  }

  // Draws the series `names` of the history (each a CSS class `line-N`),
  // with horizontal `marks` ({value, label}).
  function drawChart(id, names, marks, fixedMax) {
    const node = $(id);
    node.replaceChildren();
    const now = page.history.length ? page.history[page.history.length - 1].t
                                    : Date.now();
    const start = now - HISTORY_SECONDS * 1000;
    let max = fixedMax || 0;
    if (!fixedMax) {
      for (const sample of page.history)
        for (const name of names)
          if (isNumber(sample.values[name]))
            max = Math.max(max, sample.values[name]);
      for (const mark of marks || []) max = Math.max(max, mark.value);
      max = max > 0 ? max * 1.1 : 1;
    }
    const plotWidth = CHART.width - CHART.left - CHART.right;
    const plotHeight = CHART.height - CHART.top - CHART.bottom;
    const x = (t) => CHART.left + ((t - start) / (HISTORY_SECONDS * 1000)) *
                                      plotWidth;
    const y = (v) => CHART.top + plotHeight - (v / max) * plotHeight;
    node.append(svg('rect', {x: CHART.left, y: CHART.top, width: plotWidth,
                             height: plotHeight, class: 'plot'}));
    for (const fraction of [0, 0.5, 1]) {
      const value = max * fraction;
      node.append(svg('line', {x1: CHART.left, x2: CHART.left + plotWidth,
                               y1: y(value), y2: y(value), class: 'grid'}));
      const label = svg('text', {x: CHART.left - 4, y: y(value) + 4,
                                 class: 'axis', 'text-anchor': 'end'});
      label.textContent = formatNumber(value, value < 10 ? 2 : 0);
      node.append(label);
    }
    const axis = svg('text', {x: CHART.left, y: CHART.height - 4,
                              class: 'axis'});
    axis.textContent = '-' + HISTORY_SECONDS + ' s';
    node.append(axis);
    for (const mark of marks || []) {
      node.append(svg('line', {x1: CHART.left, x2: CHART.left + plotWidth,
                               y1: y(mark.value), y2: y(mark.value),
                               class: 'mark ' + (mark.cls || '')}));
      const label = svg('text', {x: CHART.left + plotWidth - 2,
                                 y: y(mark.value) - 3, class: 'axis',
                                 'text-anchor': 'end'});
      label.textContent = mark.label;
      node.append(label);
    }
    names.forEach((name, index) => {
      const points = page.history
          .filter((sample) => isNumber(sample.values[name]))
          .map((sample) => x(sample.t).toFixed(1) + ',' +
                           y(sample.values[name]).toFixed(1));
      if (points.length === 0) return;
      const line = svg('polyline', {points: points.join(' '),
                                    class: 'line line-' + (index % 6)});
      line.setAttribute('data-series', name);
      node.append(line);
    });
  }

  // The depth bar: fill to depth, marks at the watermarks.
  function drawDepthBar(depth, capacity, low, high) {
    const node = $('depth-bar');
    node.replaceChildren();
    const width = 400;
    const scale = (v) => Math.max(0, Math.min(width, (v / capacity) * width));
    node.append(svg('rect', {x: 0, y: 6, width, height: 20, class: 'track'}));
    const level = depth >= high ? 'hard' : depth >= low ? 'soft' : 'ok';
    node.append(svg('rect', {x: 0, y: 6, width: scale(depth), height: 20,
                             class: 'fill', 'data-level': level}));
    for (const [value, name] of [[low, 'low'], [high, 'high']]) {
      if (!isNumber(value)) continue;
      node.append(svg('line', {x1: scale(value), x2: scale(value), y1: 2,
                               y2: 30, class: 'watermark'}));
      const label = svg('text', {x: scale(value), y: 42, class: 'axis',
                                 'text-anchor': 'middle'});
      label.textContent = name;
      node.append(label);
    }
  }

  // ---- the raw fields --------------------------------------------------
  function renderRaw(status) {
    const rows = [];
    const walk = (value, path) => {
      if (rows.length >= RAW_ROWS_MAX) return;
      if (value !== null && typeof value === 'object') {
        const entries = Array.isArray(value) ? value.map((v, i) => [i, v])
                                             : Object.entries(value);
        if (entries.length === 0) rows.push([path, Array.isArray(value)
                                                       ? '[]' : '{}']);
        for (const [key, item] of entries)
          walk(item, path === '' ? String(key) : path + '.' + key);
      } else {
        rows.push([path, JSON.stringify(value)]);
      }
    };
    walk(status, '');
    fillTable('raw', rows);
  }

  // ---- the coordinator -------------------------------------------------
  // What the numbers say, for a /status without a reason of its own.
  function derivedReason(s) {
    const parts = [];
    if (s.draining) parts.push('draining: shutting down');
    if (isNumber(s.depth) && isNumber(s.high_watermark) &&
        s.depth >= s.high_watermark)
      parts.push('queue at or above the high watermark');
    else if (isNumber(s.depth) && isNumber(s.low_watermark) &&
             s.depth > s.low_watermark)
      parts.push('queue above the low watermark');
    if (s.breaker && s.breaker !== 'closed')
      parts.push('sink failing (breaker ' + s.breaker + ')');
    if (s.level === 'hard') parts.push('producers paused');
    else if (s.level === 'soft') parts.push('producers slowed');
    return parts.length ? parts.join('; ') + ' (read from the numbers)' : '';
  }

  function renderCoordinator(s, metrics, now) {
    const id = s.coordinator_id;
    document.title = 'mds-coordinator ' + id + ': ' + s.level;
    setText('title', 'mds-coordinator');
    setText('identity', 'coordinator ' + id +
            (metrics.__version ? ' · version ' + metrics.__version : ''));
    setLevel('level', s.level);
    observe('level', s.level, now, 'depth ' + formatNumber(s.depth));
    // The service's one-line hint (issue 15), else what the numbers say;
    // the machine word of the last change's reason under it.
    const hint = firstText(s.hint, s.explanation);
    setText('hint', hint || derivedReason(s), hint || '');
    const reason = firstText(s.reason, s.level_reason);
    setText('reason', reason && reason !== 'none'
                          ? 'reason: ' + reason.replace(/_/g, ' ') : '',
            reason || '');
    // Time in level: the service's own figure when it sends one, else what
    // this page has seen.
    const since = firstNumber(s.since_ms, s.level_since_ms,
                              isNumber(s.since) ? s.since * 1000 : undefined);
    const inLevel = firstNumber(
        s.time_in_level_seconds, s.seconds_in_level, s.level_seconds,
        isNumber(s.time_in_level_ms) ? s.time_in_level_ms / 1000 : undefined,
        since ? (now - since) / 1000 : undefined);
    const dwellLeft = firstNumber(
        s.dwell_remaining_seconds,
        isNumber(s.dwell_remaining_ms) ? s.dwell_remaining_ms / 1000
                                       : undefined);
    let sinceText = isNumber(inLevel)
                        ? 'in this level for ' + formatDuration(inLevel)
                        : 'seen in this level for ' +
                              formatDuration((now - page.seenSince.level) /
                                             1000);
    if (since)
      sinceText += ' (since ' + new Date(since).toLocaleTimeString() + ')';
    if (isNumber(dwellLeft) && dwellLeft > 0)
      sinceText += ' · dwell left ' + formatDuration(dwellLeft);
    setText('since', sinceText);

    const capacity = s.capacity;
    setText('depth', formatNumber(s.depth), s.depth);
    setText('capacity', formatNumber(capacity));
    setText('watermarks', 'low ' + formatNumber(s.low_watermark) +
            ' · high ' + formatNumber(s.high_watermark) + ' · dead band ' +
            formatNumber(s.dead_band) + ' · dwell ' +
            formatNumber(s.dwell_ms) + ' ms');
    if (isNumber(s.depth) && isNumber(capacity) && capacity > 0)
      drawDepthBar(s.depth, capacity, s.low_watermark, s.high_watermark);

    const rates = counterRates(now, {
      received: metrics.coordinator_records_received_total,
      written: metrics.coordinator_records_written_total,
      duplicate: metrics.coordinator_records_duplicate_total,
    });
    const rateIn = firstNumber(s.incoming_rate, s.incoming_rate_per_second,
                               s.rates && s.rates.incoming, rates.received);
    const rateOut = firstNumber(s.written_rate, s.rates && s.rates.written,
                                rates.written);
    const rateDup = firstNumber(s.duplicates_rate, s.duplicate_rate,
                                s.rates && s.rates.duplicates, rates.duplicate);
    setText('rate-in', formatNumber(rateIn), isNumber(rateIn) ? rateIn : '');
    setText('rate-out', formatNumber(rateOut),
            isNumber(rateOut) ? rateOut : '');
    setText('drain-rate', formatNumber(s.drain_rate));
    setText('rate-dup', formatNumber(rateDup));

    const sink = s.sink && typeof s.sink === 'object' ? s.sink : {};
    const sinkRows = Object.entries(sink).map(([k, v]) =>
        [k, typeof v === 'object' ? JSON.stringify(v) : v]);
    sinkRows.push(['breaker', s.breaker], ['ready', s.ready],
                  ['draining', s.draining]);
    fillTable('sink', sinkRows);
    observe('breaker', s.breaker, now, '');
    observe('ready', s.ready, now, '');

    const body = $('workers').tBodies[0];
    body.replaceChildren();
    for (const worker of Array.isArray(s.workers) ? s.workers : []) {
      const tr = el('tr', null, {'data-worker': String(worker.index)});
      tr.append(el('td', worker.index), el('td', worker.breaker),
                el('td', worker.sink_reachable));
      body.append(tr);
    }
    remember(now, {depth: s.depth, in: rateIn, out: rateOut});
    drawChart('chart-depth', ['depth'], [
      {value: s.low_watermark, label: 'low', cls: 'low'},
      {value: s.high_watermark, label: 'high', cls: 'high'},
    ].filter((mark) => isNumber(mark.value)));
    drawChart('chart-rates', ['in', 'out'], []);
    serverTransitions(s.transitions || s.last_transitions, now);
  }

  // ---- the pipeline ----------------------------------------------------
  function renderPipeline(s, metrics, now) {
    const sender = s.sender && typeof s.sender === 'object' ? s.sender : {};
    const providers = Array.isArray(s.providers) ? s.providers : [];
    const coordinators = Array.isArray(s.coordinators) ? s.coordinators : [];
    setText('title', 'mdp-pipeline');
    setText('identity', 'producer ' + (sender.producer_id || '?') +
            (metrics.__version ? ' · version ' + metrics.__version : ''));

    // The pressure it obeys: the worst effective level of its coordinators.
    let worst = null;
    for (const c of coordinators) {
      const level = c.effective_level || c.level;
      if (level in LEVEL_RANK &&
          (worst === null || LEVEL_RANK[level] > LEVEL_RANK[worst]))
        worst = level;
    }
    const level = firstText(s.level, s.pressure, worst) ||
                  (coordinators.length ? null : 'none');
    setLevel('pl-level', level);
    document.title = 'mdp-pipeline: ' + (level || '?');
    const reasons = [];
    const hint = firstText(s.reason, s.hint);
    if (hint) reasons.push(hint);
    if (!s.feedback_enabled && s.feedback_enabled !== undefined)
      reasons.push('feedback disabled: rates are not scaled');
    if (coordinators.length === 0 && s.feedback_enabled !== false)
      reasons.push('no coordinator heard yet');
    for (const c of coordinators) {
      if (c.stale) reasons.push(c.id + ' silent: treated as ' +
                                c.effective_level);
      else if (c.effective_level && c.effective_level !== 'ok')
        reasons.push(c.id + ' is ' + c.effective_level + ' (depth ' +
                     formatNumber(c.queue_depth) + ')');
    }
    setText('pl-reason', reasons.join(' · '));

    let produced = 0;
    for (const p of providers) produced += isNumber(p.produced) ? p.produced : 0;
    const rates = counterRates(now, {produced, acked: sender.records_acked});
    const rateIn = firstNumber(s.incoming_rate, rates.produced);
    const rateOut = firstNumber(rates.acked);
    setText('pl-rate-in', formatNumber(rateIn), isNumber(rateIn) ? rateIn : '');
    setText('pl-rate-out', formatNumber(rateOut),
            isNumber(rateOut) ? rateOut : '');
    setText('pl-unacked', formatNumber(sender.unacked_batches));
    fillTable('sender', Object.entries(sender).map(([k, v]) =>
        [k, typeof v === 'object' ? JSON.stringify(v) : v]));

    const values = {in: rateIn, out: rateOut};
    const body = $('providers').tBodies[0];
    body.replaceChildren();
    for (const p of providers) {
      const tr = el('tr', null, {'data-provider': p.name});
      const scaleCell = el('td', null, {class: 'scale'});
      const bar = svg('svg', {viewBox: '0 0 100 10', class: 'mini'});
      bar.append(svg('rect', {x: 0, y: 0, width: 100, height: 10,
                              class: 'track'}));
      const scale = isNumber(p.scale) ? Math.max(0, Math.min(1, p.scale)) : 0;
      bar.append(svg('rect', {x: 0, y: 0, width: scale * 100, height: 10,
                              class: 'fill'}));
      scaleCell.append(bar, el('span', formatNumber(p.scale, 2),
                               {class: 'scale-value',
                                'data-value': String(p.scale)}));
      const states = [];
      if (p.paused) states.push('paused');
      if (p.ramping) states.push('ramping');
      if (p.breaker && p.breaker !== 'closed') states.push('breaker ' +
                                                          p.breaker);
      if (Array.isArray(p.cooldowns) && p.cooldowns.length)
        states.push('cooldown');
      if (p.done) states.push('done');
      tr.append(el('td', p.name), el('td', p.source), scaleCell,
                el('td', formatNumber(p.rate)),
                el('td', formatNumber(p.effective_rate)),
                el('td', states.join(', ') || 'running'),
                el('td', formatNumber(p.produced)));
      body.append(tr);
      values['scale:' + p.name] = p.scale;
      observe('provider ' + p.name, p.paused ? 'paused' : 'running', now,
              'scale ' + formatNumber(p.scale, 2));
    }
    const coordinatorBody = $('coordinators').tBodies[0];
    coordinatorBody.replaceChildren();
    for (const c of coordinators) {
      const tr = el('tr', null, {'data-coordinator': c.id});
      const notes = [];
      if (c.stale) notes.push('stale');
      if (c.seq_gaps) notes.push(c.seq_gaps + ' seq gaps');
      if (c.restarts) notes.push(c.restarts + ' restarts');
      tr.append(el('td', c.id), el('td', c.level, {'data-level': c.level}),
                el('td', c.effective_level,
                   {'data-level': c.effective_level}),
                el('td', formatNumber(c.queue_depth) + ' / ' +
                             formatNumber(c.capacity)),
                el('td', isNumber(c.utilization)
                             ? (c.utilization * 100).toFixed(1) + ' %' : '—'),
                el('td', isNumber(c.age_seconds)
                             ? formatDuration(c.age_seconds) + ' ago' : '—'),
                el('td', notes.join(', ')));
      coordinatorBody.append(tr);
      observe('coordinator ' + c.id, c.effective_level, now,
              'depth ' + formatNumber(c.queue_depth));
    }
    remember(now, values);
    drawChart('chart-scale', providers.map((p) => 'scale:' + p.name), [], 1);
    drawChart('chart-pl-rates', ['in', 'out'], []);
    serverTransitions(s.transitions, now);
  }

  // ---- the loop --------------------------------------------------------
  function setConnection(state, text) {
    const node = $('connection');
    node.setAttribute('data-state', state);
    node.textContent = text;
  }

  async function fetchText(path) {
    const response = await fetch(path, {cache: 'no-store'});
    return response.text();
  }

  async function poll() {
    const now = Date.now();
    try {
      const status = JSON.parse(await fetchText('/status'));
      let metrics = {};
      try {
        metrics = parseMetrics(await fetchText('/metrics'));
      } catch (error) {
        metrics = {}; // rates then come from /status alone
      }
      const kind = status.service === 'market-data-pipeline' ||
                           Array.isArray(status.providers)
                       ? 'pipeline'
                       : 'coordinator';
      if (kind !== page.kind) {
        page.kind = kind;
        $('coordinator').hidden = kind !== 'coordinator';
        $('pipeline').hidden = kind !== 'pipeline';
        $('common').hidden = false;
        document.body.setAttribute('data-kind', kind);
      }
      if (kind === 'pipeline') renderPipeline(status, metrics, now);
      else renderCoordinator(status, metrics, now);
      renderTransitions();
      renderRaw(status);
      page.failures = 0;
      setConnection('live', 'live');
      setText('updated', 'Last update ' + clock(now) + '.');
    } catch (error) {
      page.failures += 1;
      setConnection('down', 'no answer from /status (' +
                    page.failures + ' in a row)');
    } finally {
      setTimeout(poll, PERIOD_MS);
    }
  }

  poll();
})();
