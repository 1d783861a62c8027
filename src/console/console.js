/* global document, window, fetch, sessionStorage, setTimeout, ResizeObserver, URLSearchParams, uPlot */
// The engine's live console: polls GET /api/stats every second and looks members up through the public API.
// Data only ever reaches the page through textContent (never innerHTML), and user input only reaches URLs
// through encodeURIComponent, so hostile ids or details are shown as text and never run.
(() => {
  const POLL_MS = 1000;
  const HISTORY_PAGE = 10;
  const TOKEN_KEY = 'loyalty.apiToken';
  const USER_ID = /^[A-Za-z0-9._:@-]{1,128}$/;
  const number = new Intl.NumberFormat('en-US');
  const millis = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });
  const time = new Intl.DateTimeFormat('en-GB', { dateStyle: 'short', timeStyle: 'medium' });

  const $ = (id) => document.getElementById(id);
  const setText = (id, text) => ($(id).textContent = text);
  const fmt = (n) => (typeof n === 'number' && Number.isFinite(n) ? number.format(n) : '–');
  const clock = new Intl.DateTimeFormat('en-GB', { timeStyle: 'medium' });
  const when = (iso) => (iso ? time.format(new Date(iso)) : '–');
  const whenToday = (iso) => (iso ? clock.format(new Date(iso)) : '–');
  /** Latencies: one decimal below 10 ms, whole milliseconds above. */
  const latency = (ms) => (ms < 10 ? millis.format(ms) : number.format(Math.round(ms)));

  /** Replaces a table body's rows; each row is an array of cells, a cell a string or { text, className }. */
  function fillRows(tbody, rows, emptyText, columns) {
    const out = rows.map((cells) => {
      const tr = document.createElement('tr');
      for (const c of cells) {
        const td = document.createElement('td');
        if (c instanceof window.Node) td.appendChild(c);
        else if (typeof c === 'object' && c !== null) {
          td.textContent = c.text;
          td.className = c.className;
        } else td.textContent = c;
        tr.appendChild(td);
      }
      return tr;
    });
    if (out.length === 0) {
      const tr = document.createElement('tr');
      const td = document.createElement('td');
      td.colSpan = columns;
      td.className = 'empty';
      td.textContent = emptyText;
      tr.appendChild(td);
      out.push(tr);
    }
    tbody.replaceChildren(...out);
  }

  // ---- charts ----
  function chart(el, color) {
    const opts = {
      width: Math.max(200, el.clientWidth),
      height: 190,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: { y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [
        { stroke: '#667085', grid: { stroke: '#eef0f3' } },
        {
          stroke: '#667085',
          grid: { stroke: '#eef0f3' },
          size: 60,
          values: (_u, ticks) => ticks.map((t) => number.format(t)),
        },
      ],
      series: [{}, { stroke: color, width: 2, fill: color + '1f', points: { show: false } }],
    };
    const u = new uPlot(opts, [[], []], el);
    new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height: 190 })).observe(el);
    return u;
  }
  const rateChart = chart($('chart-rate'), '#2563eb');
  const lagChart = chart($('chart-lag'), '#d97706');

  // ---- stats ----
  function render(s) {
    setText('rules-version', s.rules_version ?? '–');
    setText('partitions', s.partitions.length > 0 ? s.partitions.join(', ') : 'none');
    setText('applied-rate', fmt(s.events.applied_per_second));
    setText(
      'processed-rate',
      s.events.per_second === null ? '' : `${fmt(s.events.per_second)}/s processed, all outcomes`,
    );
    const applied = $('applied-total');
    applied.textContent = fmt(s.events.applied);
    applied.dataset.value = String(s.events.applied);
    const o = s.events.by_outcome;
    setText(
      'events-total',
      `${fmt(s.events.total)} processed · ${fmt(o.rejected ?? 0)} rejected · ${fmt(o.duplicate ?? 0)} duplicates`,
    );
    setText('lag-total', fmt(s.lag.total));
    const f = s.flush;
    setText('flush-latency', f.p50_ms === null ? '–' : `${latency(f.p50_ms)} / ${latency(f.p99_ms)} ms`);
    setText(
      'flush-window',
      `${fmt(f.flushes)} flushes ${f.window_seconds === null ? 'since start' : `in the last ${f.window_seconds} s`}`,
    );

    const reasons = Object.entries(s.dead_letters.by_reason).sort((a, b) => b[1] - a[1]);
    setText('dead-total', fmt(reasons.reduce((n, [, c]) => n + c, 0)));
    fillRows(
      $('dead-reasons'),
      reasons.map(([r, c]) => [r, { text: fmt(c), className: 'num' }]),
      'none',
      2,
    );
    fillRows(
      $('dead-latest'),
      s.dead_letters.latest.map((d) => [
        d.reason,
        { text: String(d.partition), className: 'num' },
        { text: String(d.offset), className: 'num' },
        { text: d.detail, className: 'detail' },
        { text: whenToday(d.recorded_at), className: 'num' },
      ]),
      'none',
      5,
    );
    setText(
      'dead-note',
      s.dead_letters.latest_error ? `dead_letters table not readable: ${s.dead_letters.latest_error}` : '',
    );

    const lags = s.partitions.map((p) => [p, s.lag.by_partition[String(p)]]);
    const maxLag = Math.max(1, ...lags.map(([, l]) => l ?? 0));
    fillRows(
      $('lag-body'),
      lags.map(([p, l]) => {
        const bar = document.createElement('div');
        bar.className = 'bar';
        bar.style.width = `${Math.round(((l ?? 0) / maxLag) * 100)}%`;
        return [
          { text: String(p), className: 'num' },
          { text: l === undefined ? 'measuring…' : fmt(l), className: 'num' },
          bar,
        ];
      }),
      'no partitions owned',
      3,
    );

    rateChart.setData([s.history.t, s.history.applied_per_second]);
    lagChart.setData([s.history.t, s.history.lag]);
  }

  async function poll() {
    try {
      const res = await fetch('/api/stats', { cache: 'no-store' });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      render(await res.json());
      setStatus('live', 'ok');
    } catch (e) {
      setStatus(`no answer (${e instanceof Error ? e.message : 'error'})`, 'down');
    } finally {
      setTimeout(poll, POLL_MS);
    }
  }
  function setStatus(text, kind) {
    const el = $('status');
    el.textContent = text;
    el.className = `status ${kind}`;
  }

  // ---- member lookup ----
  const lookup = { id: null, pages: [null], next: null };

  /** Error bodies are `{ error, detail }`; anything else is described by its status. */
  async function errorText(res) {
    try {
      const body = await res.json();
      if (body && typeof body.detail === 'string') return body.detail;
    } catch {
      /* not JSON */
    }
    return `HTTP ${res.status}`;
  }
  function showError(id, text) {
    const el = $(id);
    el.textContent = text;
    el.hidden = text === '';
  }
  /** Long input is shown shortened, with its length, so 10 kB of it does not flood the page. */
  const preview = (s) => (s.length > 120 ? `${s.slice(0, 120)}… (${fmt(s.length)} characters)` : s);

  async function lookUp(raw) {
    const id = raw.trim();
    lookup.id = null;
    $('member').hidden = true;
    showError('member-error', '');
    if (!USER_ID.test(id)) {
      showError(
        'member-error',
        `Not a user id: "${preview(id)}". A user id is 1-128 characters of A-Z a-z 0-9 . _ : @ -`,
      );
      return;
    }
    let res;
    try {
      res = await fetch(`/points/${encodeURIComponent(id)}`, { cache: 'no-store' });
    } catch (e) {
      showError('member-error', `The engine did not answer (${e instanceof Error ? e.message : 'error'})`);
      return;
    }
    if (!res.ok) {
      showError('member-error', res.status === 404 ? `No events seen for "${id}".` : await errorText(res));
      return;
    }
    const b = await res.json();
    setText('member-id', b.user_id);
    const points = $('member-points');
    points.textContent = fmt(b.points);
    points.dataset.value = String(b.points);
    setText('member-lifetime', fmt(b.lifetime_earned));
    setText('member-tier', b.tier ?? '–');
    setText('member-updated', when(b.updated_at));
    $('member').hidden = false;
    lookup.id = id;
    lookup.pages = [null];
    await loadHistory();
  }

  async function loadHistory() {
    const id = lookup.id;
    if (id === null) return;
    const before = lookup.pages[lookup.pages.length - 1];
    const q = new URLSearchParams({ limit: String(HISTORY_PAGE) });
    if (before !== null) q.set('before', String(before));
    const token = sessionStorage.getItem(TOKEN_KEY);
    let res;
    try {
      res = await fetch(`/points/${encodeURIComponent(id)}/history?${q}`, {
        cache: 'no-store',
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
    } catch (e) {
      showError('history-error', `The engine did not answer (${e instanceof Error ? e.message : 'error'})`);
      return;
    }
    $('token-form').hidden = res.status !== 401;
    if (res.status === 401) {
      if (token) sessionStorage.removeItem(TOKEN_KEY);
      showError('history-error', token ? 'That token was refused.' : '');
      fillRows($('history-body'), [], 'enter the API token to see the history', 8);
      setPager(null);
      $('token-input').focus();
      return;
    }
    if (!res.ok) {
      showError('history-error', await errorText(res));
      return;
    }
    showError('history-error', '');
    const page = await res.json();
    if (lookup.id !== id) return; // another lookup started meanwhile
    fillRows(
      $('history-body'),
      page.items.map((x) => [
        { text: String(x.offset), className: 'num' },
        when(x.event_time),
        x.event_type,
        { text: x.status, className: `st-${x.status}` },
        { text: fmt(x.points), className: 'num' },
        { text: fmt(x.balance_after), className: 'num' },
        { text: x.event_id, className: 'mono' },
        x.reason ?? '',
      ]),
      'no events',
      8,
    );
    setPager(page.next_before);
  }
  function setPager(next) {
    lookup.next = next;
    $('history-older').disabled = next === null;
    $('history-newer').disabled = lookup.pages.length <= 1;
    setText('history-page', `page ${lookup.pages.length}`);
  }

  $('lookup-form').addEventListener('submit', (e) => {
    e.preventDefault();
    void lookUp($('lookup-input').value);
  });
  $('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const t = $('token-input').value.trim();
    if (t === '') return;
    sessionStorage.setItem(TOKEN_KEY, t);
    $('token-input').value = '';
    // The whole lookup again, so the balance shown is as recent as the history beside it.
    if (lookup.id !== null) void lookUp(lookup.id);
  });
  $('history-older').addEventListener('click', () => {
    if (lookup.next === null) return;
    lookup.pages.push(lookup.next);
    void loadHistory();
  });
  $('history-newer').addEventListener('click', () => {
    if (lookup.pages.length > 1) lookup.pages.pop();
    void loadHistory();
  });

  void poll();
})();
