// The operator view: bootstrap, the root's threshold and what waits for signatures (RSTUF's
// public reads), the online roles' expiry counting down and the recent tasks (GET
// /api/v1/status, admin-only when tokens are on), and /metrics sampled into small charts.

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "otuf.admin-token"; // per tab (sessionStorage), never kept on disk
const SAMPLE_MS = 5000;
const SAMPLES = 60;

let base;
let say;
let expiries = [];
let ticking = null;
let sampling = null;
const series = { requests: [], tasks: [], publish: [], queued: [] };
let previous = null;

function headers() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

async function api(path) {
  const response = await fetch(new URL(path, base), { headers: headers(), cache: "no-cache" });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const why = body?.detail?.error ?? body?.detail?.message ?? "";
    throw new Error(`${path}: HTTP ${response.status}${why ? `: ${why}` : ""}`);
  }
  return body.data;
}

function element(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function card(title, ...children) {
  const c = element("section", undefined, "card");
  c.append(element("h3", title), ...children);
  return c;
}

/** "3 d 04 h 05 min 06 s" until `at` (UNIX seconds), or how long ago it expired. */
function countdown(at) {
  let s = Math.round(at - Date.now() / 1000);
  const past = s < 0;
  s = Math.abs(s);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const text = `${d ? `${d} d ` : ""}${String(h).padStart(2, "0")} h ${String(m).padStart(2, "0")} min ${String(s % 60).padStart(2, "0")} s`;
  return past ? `EXPIRED ${text} ago` : `expires in ${text}`;
}

function tick() {
  for (const { node, at } of expiries) {
    node.textContent = countdown(at);
    node.className = at < Date.now() / 1000 ? "refused" : at - Date.now() / 1000 < 86400 ? "checking" : "verified";
  }
}

/** A sparkline of `values` (the last one labelled). */
function chart(title, values, unit) {
  const svgNS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(svgNS, "svg");
  svg.setAttribute("viewBox", "0 0 100 30");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  const last = values.length ? values[values.length - 1] : 0;
  svg.setAttribute("aria-label", `${title}: ${last.toFixed(2)} ${unit}`);
  const max = Math.max(...values, 1e-9);
  const points = values.map((v, i) => `${(i / Math.max(values.length - 1, 1)) * 100},${29 - (v / max) * 28}`);
  const line = document.createElementNS(svgNS, "polyline");
  line.setAttribute("points", points.join(" "));
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", "#0969da");
  line.setAttribute("stroke-width", "1.5");
  line.setAttribute("vector-effect", "non-scaling-stroke");
  svg.append(line);
  return card(title, svg, element("p", `${last.toFixed(2)} ${unit} (last ${SAMPLES} samples, every ${SAMPLE_MS / 1000} s)`));
}

/** Prometheus text: the sum of each metric's samples by name. */
function totals(text) {
  const sums = {};
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = line.match(/^([a-z_]+)(\{[^}]*\})?\s+([-0-9.e+]+)$/i);
    if (!m || m[1].endsWith("_bucket")) continue;
    sums[m[1]] = (sums[m[1]] ?? 0) + Number(m[3]);
  }
  return sums;
}

async function sample() {
  let text;
  try {
    const response = await fetch(new URL("metrics", base), { cache: "no-cache" });
    if (!response.ok) return;
    text = await response.text();
  } catch {
    return;
  }
  const now = { at: Date.now() / 1000, ...totals(text) };
  if (previous) {
    const dt = now.at - previous.at;
    const delta = (name) => (now[name] ?? 0) - (previous[name] ?? 0);
    const push = (name, v) => {
      series[name].push(v);
      if (series[name].length > SAMPLES) series[name].shift();
    };
    push("requests", delta("otuf_requests_total") / dt);
    push("tasks", delta("otuf_tasks_total") / dt);
    const n = delta("otuf_publish_seconds_count");
    push("publish", n ? (delta("otuf_publish_seconds_sum") / n) * 1000 : 0);
    push("queued", now.otuf_tasks_queued ?? 0);
  }
  previous = now;
  const charts = $("operator-charts");
  if (charts) {
    charts.replaceChildren(
      chart("Requests", series.requests, "per second"),
      chart("Tasks finished", series.tasks, "per second"),
      chart("Publication", series.publish, "ms each"),
      chart("Tasks queued", series.queued, "tasks"));
  }
}

function tasksTable(tasks) {
  const table = element("table");
  table.append(element("caption", "Recent tasks, last changed first"));
  const head = element("tr");
  for (const h of ["Task", "Action", "State", "Result", "Changed"]) {
    const th = element("th", h);
    th.scope = "col";
    head.append(th);
  }
  table.createTHead().append(head);
  const body = table.createTBody();
  for (const t of tasks) {
    const r = t.result ?? {};
    const outcome = r.error ?? r.message ?? (r.status === undefined ? "" : r.status ? "done" : "failed");
    const row = element("tr");
    row.append(element("td", t.id.slice(0, 12), "path"), element("td", t.action),
      element("td", t.state, t.state === "SUCCESS" ? "verified" : t.state === "PENDING" || t.state === "RUNNING" ? "checking" : "refused"),
      element("td", String(outcome)), element("td", new Date(t.updated * 1000).toISOString().replace(".000", "")));
    body.append(row);
  }
  return table;
}

async function show() {
  const out = $("operator");
  say("", "bad", $("operator-message"));
  let status;
  try {
    status = await api("api/v1/status");
  } catch (e) {
    out.replaceChildren();
    say(`The operator view needs the admin token: ${e.message}`, "bad", $("operator-message"));
    return;
  }
  const [bootstrap, config, signing] = await Promise.all([
    api("api/v1/bootstrap/").catch(() => ({})),
    api("api/v1/config/").catch(() => ({})),
    api("api/v1/metadata/sign").catch(() => ({})),
  ]);
  const cards = element("div", undefined, "cards");
  cards.append(card("Bootstrap", element("p", status.bootstrap ?? bootstrap.state ?? "available")));
  if (config.root_threshold !== undefined) {
    cards.append(card("Root", element("p", `threshold ${config.root_threshold} of ${config.root_num_keys} key(s)`)));
  }
  const pending = Object.entries(signing?.metadata ?? {}).filter(([role]) => !role.startsWith("trusted_"));
  cards.append(card("Waiting for signatures", ...(pending.length
    ? pending.map(([role, m]) => element("p", `${role} v${m.signed?.version}: ${m.signatures?.length ?? 0} signature(s) so far`))
    : [element("p", "nothing")])));
  expiries = [];
  const online = status.roles.map((r) => {
    const line = element("p");
    const when = element("span");
    expiries.push({ node: when, at: r.expires });
    const name = r.role === "delegated" ? `${r.count} delegated roles (first: ${r.first_to_expire})` : `${r.role} v${r.version}`;
    line.append(`${name}: `, when);
    return line;
  });
  cards.append(card("Online roles", ...online));
  cards.append(card("Tasks", element("p", `${status.queued_tasks} queued`)));
  const charts = element("div", undefined, "cards");
  charts.id = "operator-charts";
  out.replaceChildren(cards, element("h2", "Metrics"), charts, tasksTable(status.recent_tasks));
  tick();
  clearInterval(ticking);
  ticking = setInterval(tick, 1000);
  if (!sampling) sampling = setInterval(sample, SAMPLE_MS);
  await sample();
}

/** Wires the view (`portal.js` calls this with the page's base and its message writer). */
export function operator(pageBase, pageSay) {
  base = pageBase;
  say = pageSay;
  $("token").value = sessionStorage.getItem(TOKEN_KEY) ?? "";
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token").value.trim();
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
    show();
  });
  $("show-operator").addEventListener("click", show);
}
