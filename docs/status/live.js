// The live page of /webhist/status: reads /webhist/events (Server-Sent Events, one JSON object
// per message; the format is in docs/status.md) and draws requests on the lanes of the
// processes that served them. Plain browser JavaScript, no build step, nothing fetched from
// elsewhere; text goes in with textContent only, so nothing the server sends becomes markup.

const svgNs = 'http://www.w3.org/2000/svg';
const windowMs = 30_000;
/** Requests kept for drawing: enough for 30 s of a burst, bounded under a benchmark's load. */
const keptRequests = 3000;
/** A server process silent this long (no stats every second) is stuck, or gone: reconnect. */
const staleMs = 3500;

/** Processes by pid: kind, what it was started for, when it started and exited. */
const lanes = new Map();
/** Requests by `${server pid}:${id}`: start, end, pid that served it, outcome. */
const requests = new Map();
let clockOffset = 0;
let lastHeard = 0;
let serverPid = 0;
let source;

const $ = (selector) => document.querySelector(selector);
const serverNow = () => Date.now() - clockOffset;

function lane(pid, kind, extra = {}) {
  let known = lanes.get(pid);
  if (!known) {
    known = { pid, kind: kind ?? '?', startedAt: undefined, exitedAt: undefined, order: lanes.size, ...extra };
    lanes.set(pid, known);
  }
  // What the latest word says: after a reconnection, the process that was "server" is a peer.
  if (kind) known.kind = kind;
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) known[k] = v;
  return known;
}

function keep(key, request) {
  requests.set(key, request);
  if (requests.size > keptRequests) requests.delete(requests.keys().next().value);
}

const handlers = {
  hello(m) {
    clockOffset = Date.now() - m.t;
    // Connected to another server process (--processes N): the requests the old one had in
    // flight cannot be followed from here; its lane shows it busy, from the pool's heartbeats.
    if (serverPid && serverPid !== m.pid) {
      for (const [key, r] of requests) if (key.startsWith(`${serverPid}:`) && r.end === undefined) requests.delete(key);
    }
    serverPid = m.pid;
    document.body.dataset.mode = m.mode;
    document.body.dataset.pid = String(m.pid);
    $('#mode').textContent = `${m.mode} mode`;
    for (const r of m.inFlightRequests) keep(`${m.pid}:${r.id}`, { start: r.startedAt, target: r.target, pid: r.pid });
    handlers.stats(m);
  },
  stats(m) {
    clockOffset = Date.now() - m.t;
    const perRequest = m.served > 0 ? (m.processesStarted / m.served).toFixed(2) : undefined;
    $('#per-request').textContent = perRequest === undefined ? '' : `${perRequest} per request served`;
    for (const [name, value] of Object.entries(m)) {
      const cell = document.querySelector(`[data-counter="${name}"]`);
      if (cell) cell.textContent = shown(name, value);
    }
    const alive = new Set();
    for (const row of m.processes) {
      alive.add(row.pid);
      const known = lane(row.pid, row.kind, { about: row.about });
      known.startedAt ??= row.startedAt;
      known.exitedAt = undefined;
      // A peer server process (--processes N) reports only its state: draw its busy stretch.
      if (row.kind === 'peer') known.busySince = row.state === 'busy' ? (known.busySince ?? m.t) : undefined;
      known.current = row.current;
    }
    for (const known of lanes.values()) {
      if (known.kind === 'peer' && !alive.has(known.pid) && known.exitedAt === undefined) known.exitedAt = m.t;
    }
    table(m.processes);
  },
  'request-start'(m) {
    keep(`${serverPid}:${m.id}`, { start: m.t, target: m.target });
    bump('inFlight', 1);
  },
  'request-assigned'(m) {
    const request = requests.get(`${serverPid}:${m.id}`);
    if (request) request.pid = m.pid;
    lane(m.pid);
  },
  'request-end'(m) {
    const key = `${serverPid}:${m.id}`;
    const request = requests.get(key) ?? { start: m.startedAt, target: m.target };
    Object.assign(request, { end: m.t, pid: m.pid, status: m.status, outcome: m.outcome });
    keep(key, request);
    lane(m.pid);
    bump('served', 1);
    bump('inFlight', -1);
  },
  'process-start'(m) {
    const known = lane(m.pid, m.kind, { script: m.script, about: m.about });
    known.startedAt = m.t;
    known.exitedAt = undefined;
    bump('processesStarted', 1);
  },
  'process-exit'(m) {
    const known = lane(m.pid, m.kind);
    known.exitedAt = m.t;
    known.status = m.status;
  },
  lost(m) {
    notice(`this page fell behind and ${m.count} events were skipped (the server keeps a bounded queue per viewer)`);
  },
};

/** Between two `stats`, the counters the events themselves move: the next `stats` sets them right. */
function bump(name, by) {
  const cell = document.querySelector(`[data-counter="${name}"]`);
  const now = Number(cell?.textContent);
  if (cell && Number.isFinite(now)) cell.textContent = String(now + by);
}

function shown(name, value) {
  if (value === undefined || value === null) return '–';
  if (name === 'treeRssBytes') return `${(value / 1048576).toFixed(0)} MiB`;
  if (name === 'cpuMsPerRequest') return `${value.toFixed(value < 10 ? 2 : 1)} ms`;
  return String(value);
}

function notice(text) {
  const box = $('#notice');
  box.hidden = !text;
  box.textContent = text ?? '';
}

function table(rows) {
  const body = $('#processes tbody');
  body.replaceChildren(
    ...rows.map((row) => {
      const tr = document.createElement('tr');
      tr.dataset.pid = String(row.pid);
      tr.dataset.state = row.state;
      tr.dataset.kind = row.kind;
      const cells = [
        row.pid,
        row.kind === 'peer' ? 'server (peer)' : row.about ? `${row.kind} · ${row.about}` : row.kind,
        row.state,
        row.served,
        row.current.join(', ') || '–',
        row.rssBytes === undefined ? '–' : `${(row.rssBytes / 1048576).toFixed(1)} MiB`,
        `${Math.round((serverNow() - row.startedAt) / 1000)} s`,
      ];
      for (const [i, text] of cells.entries()) {
        const td = document.createElement('td');
        td.textContent = String(text);
        if (i === 2) td.className = row.state;
        tr.append(td);
      }
      return tr;
    }),
  );
}

// ── the timeline ────────────────────────────────────────────────────────────────────────────

function el(name, attrs, text) {
  const node = document.createElementNS(svgNs, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function draw() {
  const svg = $('#timeline');
  const width = svg.clientWidth || 900;
  const labelWidth = 190;
  const now = serverNow();
  const from = now - windowMs;
  const x = (t) => labelWidth + ((Math.max(t, from) - from) / windowMs) * (width - labelWidth - 8);

  for (const [key, r] of requests) if (r.end !== undefined && r.end < from) requests.delete(key);
  const shownRequests = [...requests.entries()];
  const busyPids = new Set(shownRequests.map(([, r]) => r.pid));
  const shownLanes = [...lanes.values()].filter((l) => l.exitedAt === undefined || l.exitedAt >= from || busyPids.has(l.pid));
  for (const l of lanes.values()) if (!shownLanes.includes(l)) lanes.delete(l.pid);
  // The server first, then its pool, then processes in the order they appeared.
  const rank = { server: 0, peer: 1, manager: 2 };
  shownLanes.sort((a, b) => (rank[a.kind] ?? 3) - (rank[b.kind] ?? 3) || a.order - b.order);
  const waiting = shownRequests.some(([, r]) => r.pid === undefined);
  const rows = (waiting ? 1 : 0) + shownLanes.length;
  const laneHeight = rows > 24 ? Math.max(5, Math.floor(600 / rows)) : 20;
  const top = 18;
  svg.setAttribute('height', String(top + Math.max(rows, 1) * laneHeight + 6));

  const parts = [];
  for (let s = 0; s <= windowMs / 1000; s += 5) {
    const at = x(from + s * 1000);
    parts.push(el('line', { class: 'axis', x1: at, x2: at, y1: 12, y2: top + rows * laneHeight }));
    parts.push(el('text', { x: at - 8, y: 10 }, s === windowMs / 1000 ? 'now' : `-${windowMs / 1000 - s}s`));
  }
  const laneY = new Map();
  let row = 0;
  if (waiting) {
    parts.push(el('text', { x: 4, y: top + laneHeight - 6 }, 'no process yet'));
    row++;
  }
  for (const l of shownLanes) {
    const y = top + row * laneHeight;
    laneY.set(l.pid, y);
    const label = `${l.pid} ${l.kind}${l.script ? ` ${l.script.replace('/cgi-bin/', '')}` : l.about ? ` ${l.about}` : ''}`;
    if (laneHeight >= 12) parts.push(el('text', { x: 4, y: y + laneHeight - 6 }, label));
    const born = l.startedAt ?? from;
    const life = el('rect', { class: 'life', x: x(born), y: y + laneHeight / 2 - 1, width: Math.max(1, x(l.exitedAt ?? now) - x(born)), height: 2 });
    parts.push(life);
    if (l.busySince !== undefined) {
      parts.push(
        el('rect', {
          class: 'bar inflight',
          'data-pid': l.pid,
          x: x(l.busySince),
          y: y + 2,
          width: Math.max(2, x(now) - x(l.busySince)),
          height: Math.max(2, laneHeight - 4),
        }),
      );
    }
    row++;
  }
  for (const [key, r] of shownRequests) {
    const y = r.pid === undefined ? top : laneY.get(r.pid);
    if (y === undefined) continue;
    const end = r.end ?? now;
    const bar = el('rect', {
      class: r.outcome ? `bar o-${r.outcome}` : 'bar inflight',
      x: x(r.start),
      y: y + 2,
      width: Math.max(2, x(end) - x(r.start)),
      height: Math.max(2, laneHeight - 4),
      'data-key': key,
      'data-target': r.target,
      ...(r.pid === undefined ? {} : { 'data-pid': r.pid }),
      ...(r.outcome ? { 'data-outcome': r.outcome } : {}),
    });
    bar.append(el('title', {}, `${r.target} ${r.status ?? '(in flight)'} ${r.outcome ?? ''} ${end - r.start} ms, pid ${r.pid ?? '?'}`));
    parts.push(bar);
  }
  svg.replaceChildren(...parts);
}

// ── the connection ──────────────────────────────────────────────────────────────────────────

function connect() {
  source?.close();
  source = new EventSource('/webhist/events');
  lastHeard = Date.now();
  source.onmessage = (e) => {
    lastHeard = Date.now();
    const message = JSON.parse(e.data);
    handlers[message.type]?.(message);
    const status = $('#connection');
    status.classList.remove('stale');
    status.textContent = `live from server process ${serverPid}`;
    document.body.dataset.connected = 'true';
  };
  source.onerror = () => {
    $('#connection').textContent = 'disconnected: retrying…';
    document.body.dataset.connected = 'false';
  };
}

// A process whose event loop is held (block.js under embedded mode) cannot send a thing: say so,
// and ask again. Under --processes N the new connection is taken by a process that is free.
setInterval(() => {
  const silent = Date.now() - lastHeard;
  if (silent < staleMs) return;
  const status = $('#connection');
  status.classList.add('stale');
  status.textContent = `no word from server process ${serverPid} for ${(silent / 1000).toFixed(0)} s: its event loop is held, or it is gone. Asking again…`;
  document.body.dataset.connected = 'false';
  connect();
}, 1000);

// ── try it ──────────────────────────────────────────────────────────────────────────────────

for (const button of document.querySelectorAll('button[data-try]')) {
  button.addEventListener('click', async () => {
    const times = Number(button.dataset.times ?? 1);
    const result = $('#try-result');
    result.textContent = `${button.dataset.try} ×${times}…`;
    const statuses = await Promise.all(
      Array.from({ length: times }, () =>
        fetch(button.dataset.try, { cache: 'no-store' }).then(
          async (res) => {
            await res.text().catch(() => {});
            return res.status;
          },
          () => 'failed',
        ),
      ),
    );
    const counts = {};
    for (const s of statuses) counts[s] = (counts[s] ?? 0) + 1;
    result.textContent = `${button.dataset.try}: ${Object.entries(counts)
      .map(([s, n]) => `${n}× ${s}`)
      .join(', ')}`;
  });
}

connect();
setInterval(draw, 250);
