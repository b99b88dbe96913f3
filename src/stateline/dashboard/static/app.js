// The stateline dashboard: renders the snapshots /api/events streams, once a second.
// No framework, no build step: DOM built with textContent only (process data is not HTML).
"use strict";

const params = new URLSearchParams(location.search);
if (params.get("token")) {
  sessionStorage.setItem("stateline-token", params.get("token"));
  history.replaceState(null, "", location.pathname); // keep the token out of history/screens
}
const token = sessionStorage.getItem("stateline-token");

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
  return e;
}

function fmt(n, digits = 0) {
  return n === null || n === undefined ? "–" : Number(n).toFixed(digits);
}

function bytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

function tierOf(role) {
  if (role === "gateway") return "gateway";
  if (role.startsWith("redis") || role === "blobs") return "stores";
  return "instances";
}

function stateClass(state) {
  return state === "up" ? "" : ["starting", "backoff", "draining"].includes(state) ? "warn" : "bad";
}

async function control(path, body) {
  const message = document.getElementById("message");
  message.textContent = "";
  const r = await fetch(path, {
    method: "POST", body: JSON.stringify(body),
    headers: { "Content-Type": "application/json", "X-Stateline-Token": token },
  });
  const doc = await r.json().catch(() => ({}));
  if (!r.ok) message.textContent = (doc.error && doc.error.message) || `HTTP ${r.status}`;
  return doc;
}

function renderTopology(snap) {
  const tiers = { gateway: [], instances: [], stores: [] };
  for (const p of snap.processes.slice().sort(byRole)) tiers[tierOf(p.role)].push(p);
  const sql = snap.stores.sql;
  tiers.stores.push({ role: "sql", id: `sql (${sql.kind})`, state: sql.up ? "up" : "down" });
  const box = document.getElementById("topology");
  box.replaceChildren(el("div", { class: "tier" }, el("h3", {}, "clients"),
    el("div", { class: "node" }, "HTTP")));
  const gwPools = (snap.gateway && snap.gateway.pools) || {};
  for (const [name, list] of Object.entries(tiers)) {
    const tier = el("div", { class: "tier" }, el("h3", {}, name));
    for (const p of list) {
      const extra = [];
      if (p.role === "gateway") {
        for (const [pool, m] of Object.entries(gwPools)) {
          extra.push(el("small", {}, `${pool}: ${fmt(m.rps, 1)} req/s · p50 ${fmt(m.p50_ms, 1)} ms · p99 ${fmt(m.p99_ms, 1)} ms`));
        }
      } else if (p.role !== "sql") {
        extra.push(el("small", {}, `${p.role} · ${p.state}`));
      }
      tier.append(el("div", { class: `node ${stateClass(p.state)}`, "data-node": p.id }, p.id, ...extra));
    }
    box.append(tier);
  }
}

const ROLE_ORDER = ["gateway", "app", "shard"];

function byRole(a, b) {
  const rank = (p) => {
    const i = ROLE_ORDER.indexOf(p.role);
    return i >= 0 ? i : p.role.startsWith("redis") ? 8 : p.role === "blobs" ? 9 : 5;
  };
  const num = (p) => Number((p.id.match(/-(\d+)$/) || [0, 0])[1]);
  return rank(a) - rank(b) || a.role.localeCompare(b.role) || num(a) - num(b)
    || a.id.localeCompare(b.id);
}

function renderProcesses(snap) {
  const inst = (snap.gateway && snap.gateway.instances) || {};
  const rows = snap.processes.slice().sort(byRole).map((p) => {
    const m = inst[p.id] || {};
    const ctl = el("td", { class: "ctl" });
    if (token) {
      const kill = el("button", { type: "button", "data-kill": p.id }, "kill");
      kill.onclick = () => control("/api/control", { cmd: "kill", id: p.id });
      const restart = el("button", { type: "button", "data-restart": p.id }, "restart");
      restart.onclick = () => control("/api/control", { cmd: "restart", id: p.id });
      ctl.append(kill, " ", restart);
    }
    return el("tr", { "data-id": p.id, "data-state": p.state },
      el("td", {}, p.role), el("td", {}, p.id), el("td", {}, p.pid ?? "–"),
      el("td", {}, p.address ?? ""),
      el("td", { class: `state ${p.state}`, title: p.reason || "" }, p.state),
      el("td", {}, p.restarts ?? 0), el("td", {}, fmt(m.rps, 1)),
      el("td", {}, fmt(m.requests)), el("td", {}, fmt(m.errors)),
      el("td", { "data-col": "p50" }, fmt(m.p50_ms, 1)),
      el("td", { "data-col": "p99" }, fmt(m.p99_ms, 1)), ctl);
  });
  document.querySelector("#processes tbody").replaceChildren(...rows);
  document.getElementById("shards-box").hidden = !snap.processes.some((p) => p.role === "shard");
}

function renderRedis(snap) {
  const rows = Object.entries(snap.redis || {}).map(([id, d]) => {
    const p = snap.processes.find((x) => x.id === id) || {};
    let repl = "";
    if (d.reachable && d.role === "master") {
      repl = (d.replicas || []).map((r) => `${r.addr} lag ${r.lag} B`).join(", ") || "no replica";
    } else if (d.reachable) {
      repl = `of ${d.master} (${d.link})`;
    }
    return el("tr", { "data-redis": id, "data-role": d.reachable ? d.role : "down" },
      el("td", {}, id), el("td", { class: `state ${d.reachable ? "up" : "down"}` },
        d.reachable ? d.role : "down"),
      el("td", {}, p.address || ""), el("td", {}, (d.slots || []).join(" ")),
      el("td", {}, d.reachable ? d.keys : "–"), el("td", {}, d.reachable ? d.offset : "–"),
      el("td", {}, repl));
  });
  document.querySelector("#redis tbody").replaceChildren(...rows);
}

function renderStores(snap) {
  const s = snap.stores;
  document.querySelector("#stores tbody").replaceChildren(
    el("tr", {}, el("td", {}, "SQL"), el("td", {}, s.sql.kind),
      el("td", { class: `state ${s.sql.up ? "up" : "down"}` }, s.sql.up ? "up" : "down"),
      el("td", {}, bytes(s.sql.bytes))),
    el("tr", {}, el("td", {}, "blobs"), el("td", {}, s.blobs.kind),
      el("td", { class: `state ${s.blobs.up ? "up" : "down"}` }, s.blobs.up ? "up" : "down"),
      el("td", {}, bytes(s.blobs.bytes))));
  const urls = snap.urls || {};
  document.getElementById("urls").textContent = urls.gateway_url || "";
}

// -- charts: plain canvas, no library -------------------------------------------

// Round numbers for an axis from 0 to at least `max`: [top, step].
function niceScale(max, ticks = 4) {
  const raw = Math.max(max, 1e-9) / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  return [step * Math.ceil(max / step || 1), step];
}

function tickLabel(v) {
  return v >= 1000 ? `${(v / 1000).toFixed(v % 1000 ? 1 : 0)}k` : String(+v.toFixed(2));
}

// Lines over a shared x axis (seconds); `series`: {label, color, axis: "left"|"right", values}.
function drawChart(canvas, xs, series, opts) {
  const g = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height;
  const pad = { l: 44, r: opts.right ? 48 : 12, t: 22, b: 26 };
  g.clearRect(0, 0, W, H);
  g.font = "11px system-ui, sans-serif";
  const x0 = xs.length ? xs[0] : 0;
  const [xTop, xStep] = niceScale(Math.max(opts.minX || 10, (xs[xs.length - 1] ?? 0) - x0));
  const axes = {};
  for (const side of ["left", "right"]) {
    const vals = series.filter((s) => s.axis === side).flatMap((s) => s.values)
      .filter((v) => v !== null && v !== undefined && Number.isFinite(v));
    axes[side] = niceScale(Math.max(side === "left" ? opts.minLeft || 1 : 1, ...vals));
  }
  const px = (x) => pad.l + ((x - x0) / xTop) * (W - pad.l - pad.r);
  const py = (v, side) => H - pad.b - (v / axes[side][0]) * (H - pad.t - pad.b);
  g.strokeStyle = "#e3e6ea"; g.fillStyle = "#556"; g.lineWidth = 1;
  g.textAlign = "right"; g.textBaseline = "middle";
  for (let v = 0; v <= axes.left[0] + 1e-9; v += axes.left[1]) {
    const y = py(v, "left");
    g.beginPath(); g.moveTo(pad.l, y); g.lineTo(W - pad.r, y); g.stroke();
    g.fillText(tickLabel(v), pad.l - 4, y);
  }
  if (opts.right) {
    g.textAlign = "left";
    for (let v = 0; v <= axes.right[0] + 1e-9; v += axes.right[1]) {
      g.fillText(tickLabel(v), W - pad.r + 4, py(v, "right"));
    }
  }
  g.textAlign = "center"; g.textBaseline = "top";
  for (let x = 0; x <= xTop + 1e-9; x += xStep) g.fillText(`${tickLabel(x)} s`, px(x0 + x), H - pad.b + 4);
  g.textBaseline = "alphabetic"; g.textAlign = "left";
  g.fillText(opts.left, 2, 12);
  if (opts.right) { g.textAlign = "right"; g.fillText(opts.right, W - 2, 12); }
  let lx = pad.l + 60;
  g.textAlign = "left";
  for (const s of series) {
    g.strokeStyle = s.color; g.lineWidth = 2;
    g.beginPath();
    let on = false;
    s.values.forEach((v, i) => {
      if (v === null || v === undefined || !Number.isFinite(v)) { on = false; return; }
      const X = px(xs[i]), Y = py(v, s.axis);
      if (on) g.lineTo(X, Y); else g.moveTo(X, Y);
      on = true;
    });
    g.stroke();
    g.fillStyle = s.color; g.fillRect(lx, 6, 10, 3);
    g.fillStyle = "#334"; g.fillText(s.label, lx + 13, 12);
    lx += g.measureText(s.label).width + 28;
  }
}

const gatewayHistory = [];

function renderChart(snap) {
  const pools = (snap.gateway && snap.gateway.pools) || {};
  const total = Object.values(pools).reduce((a, m) => a + (m.rps || 0), 0);
  const p99 = Math.max(0, ...Object.values(pools).map((m) => m.p99_ms || 0));
  gatewayHistory.push({ t: snap.at, rps: total, p99: p99 || null });
  if (gatewayHistory.length > 120) gatewayHistory.shift();
  drawChart(document.getElementById("chart"), gatewayHistory.map((p) => p.t), [
    { label: "req/s", color: "#1f8a4c", axis: "left", values: gatewayHistory.map((p) => p.rps) },
    { label: "p99 ms", color: "#3060c0", axis: "right", values: gatewayHistory.map((p) => p.p99) },
  ], { left: "req/s", right: "ms", minX: 60, minLeft: 10 });
}

function duration(s) {
  s = Math.max(0, Math.round(s));
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}

function renderRun(snap) {
  const run = snap.run;
  const box = document.getElementById("run-box");
  box.hidden = !run;
  document.getElementById("run-stop").disabled = !(run && run.running);
  if (!run) return;
  const state = run.running ? "running" : run.exit === 0 ? "finished" : `ended (exit ${run.exit})`;
  document.getElementById("run-state").textContent =
    `${run.kind} #${run.number}: ${run.name} — ${state} (pid ${run.pid}, log ${run.log})`;
  box.dataset.state = run.running ? "running" : run.exit === 0 ? "done" : "failed";
  const load = run.load;
  const bar = document.getElementById("run-progress");
  const pct = document.getElementById("run-pct");
  if (!run.running && run.exit === 0) {
    bar.value = 1;
    pct.textContent = load ? `${load.label}: done` : "done";
  } else if (load && load.total) {
    const f = Math.min(1, load.t / load.total);
    bar.value = f;
    pct.textContent = `${load.label}: ${(f * 100).toFixed(0)} %` +
      (run.running && f < 1 ? `, ETA ${duration(load.total - load.t)}` : "");
  } else {
    bar.removeAttribute("value"); // indeterminate until a load reports
    pct.textContent = run.running ? "starting…" : "";
  }
  const pts = run.points || [];
  const canvas = document.getElementById("run-chart");
  canvas.dataset.points = String(pts.length);
  canvas.dataset.maxRps = String(Math.max(0, ...pts.map((p) => p.rps || 0)));
  drawChart(canvas, pts.map((p) => p.at), [
    { label: "req/s", color: "#1f8a4c", axis: "left", values: pts.map((p) => p.rps) },
    { label: "errors/s", color: "#b3261e", axis: "left", values: pts.map((p) => p.errors_per_s) },
    { label: "p50 ms", color: "#7aa0e0", axis: "right", values: pts.map((p) => p.p50_ms) },
    { label: "p99 ms", color: "#3060c0", axis: "right", values: pts.map((p) => p.p99_ms) },
  ], { left: "req/s", right: "ms", minX: 10, minLeft: 1 });
  document.getElementById("run-steps").replaceChildren(
    ...(run.steps || []).slice(-5).map((t) => el("li", {}, t)));
  const r = run.result;
  document.getElementById("run-result").textContent = !r ? "" : r.kind === "failed"
    ? `failed: ${r.error}` : `${r.text || ""}${r.report ? `\nreport: ${r.report}` : ""}`;
}

function render(snap) {
  renderTopology(snap);
  renderProcesses(snap);
  renderRedis(snap);
  renderStores(snap);
  renderChart(snap);
  renderRun(snap);
  document.getElementById("events").replaceChildren(
    ...snap.events.slice().reverse().map((e) => el("li", {}, `${e.at} ${e.text}`)));
}

function connect() {
  const badge = document.getElementById("conn");
  const source = new EventSource("/api/events");
  source.onopen = () => { badge.textContent = "live"; badge.className = "badge live"; };
  source.onerror = () => { badge.textContent = "disconnected"; badge.className = "badge down"; };
  source.onmessage = (ev) => render(JSON.parse(ev.data));
}

document.addEventListener("DOMContentLoaded", () => {
  if (token) document.body.classList.add("controls");
  document.getElementById("mode").textContent = token ? "controls on" : "read-only (no token)";
  document.getElementById("scale-go").onclick = () =>
    control("/api/control", { cmd: "scale", apps: Number(document.getElementById("scale-n").value) });
  document.getElementById("shards-go").onclick = () =>
    control("/api/control", { cmd: "scale", shards: Number(document.getElementById("shards-n").value) });
  document.getElementById("load-go").onclick = () => control("/api/load", {
    rate: Number(document.getElementById("load-rate").value),
    duration: Number(document.getElementById("load-seconds").value),
  });
  document.getElementById("exp-go").onclick = () => control("/api/experiment", {
    name: document.getElementById("exp-name").value,
    quick: document.getElementById("exp-quick").checked,
  });
  document.getElementById("run-stop").onclick = () => control("/api/run/stop", {});
  fetch("/api/experiments").then((r) => r.json()).then((doc) => {
    document.getElementById("exp-name").replaceChildren(
      ...doc.experiments.map((n) => el("option", { value: n }, n)));
  }).catch(() => {});
  connect();
});
