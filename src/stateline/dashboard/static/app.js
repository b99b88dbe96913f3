// The stateline dashboard: renders the snapshots /api/events streams, once a second.
// No framework, no build step: DOM built with textContent only (process data is not HTML).
"use strict";

const params = new URLSearchParams(location.search);
if (params.get("token")) {
  sessionStorage.setItem("stateline-token", params.get("token"));
  history.replaceState(null, "", location.pathname); // keep the token out of history/screens
}
const token = sessionStorage.getItem("stateline-token");
const rpsHistory = [];

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
      el("td", {}, fmt(m.requests)), el("td", {}, fmt(m.errors)), ctl);
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

function renderChart(snap) {
  const pools = (snap.gateway && snap.gateway.pools) || {};
  const total = Object.values(pools).reduce((a, m) => a + (m.rps || 0), 0);
  rpsHistory.push(total);
  if (rpsHistory.length > 120) rpsHistory.shift();
  const c = document.getElementById("chart");
  const g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  const max = Math.max(10, ...rpsHistory);
  g.strokeStyle = "#1f8a4c";
  g.beginPath();
  rpsHistory.forEach((v, i) => {
    const x = (i / 119) * c.width, y = c.height - (v / max) * (c.height - 14);
    if (i) g.lineTo(x, y); else g.moveTo(x, y);
  });
  g.stroke();
  g.fillStyle = "#556";
  g.fillText(`gateway req/s (max ${max.toFixed(0)})`, 4, 10);
  const load = snap.load || {};
  document.getElementById("load-state").textContent =
    load.running ? `bench running (pid ${load.pid})` : load.pid ? `last bench exited ${load.exit}` : "";
}

function render(snap) {
  renderTopology(snap);
  renderProcesses(snap);
  renderRedis(snap);
  renderStores(snap);
  renderChart(snap);
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
  connect();
});
