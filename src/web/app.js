// berth dashboard: plain JavaScript over the REST API (API.md), no build step.
// It refreshes by itself: a poll every few seconds, and the org's event stream
// read with fetch (EventSource cannot send the bearer token) for quick updates.
"use strict";

const API = "/api/v1";
const POLL_MS = 3000;
const state = {
  token: localStorage.getItem("berth-token"),
  containers: [],
  selected: null,
  view: "containers",
  busy: new Set(), // names of containers with an action on its way
  rows: new Map(), // name -> {key, tr}: a row is rebuilt only when it changed
  detailKey: "",
};

// h builds an element; text goes through textContent, never innerHTML.
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "checked" || k === "value") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
const $ = (sel) => document.querySelector(sel);
const enc = encodeURIComponent;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const short = (s, n) => (typeof s === "string" ? s.slice(0, n) : "");

class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

// api calls the REST API; a refused token signs out; other failures throw
// ApiError with the API's own error.message.
async function api(method, path, body) {
  const opts = { method, headers: { Authorization: "Bearer " + state.token } };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(API + path, opts);
  } catch (e) {
    throw new ApiError(0, "network", "berthd cannot be reached: " + e.message);
  }
  const type = res.headers.get("Content-Type") || "";
  let data = null;
  try {
    data = type.startsWith("application/json") ? await res.json() : await res.text();
  } catch (e) { data = null; }
  if (res.status === 401) {
    signOut("That token was refused: sign in with a valid API token.");
    throw new ApiError(401, "unauthorized", "unauthorized");
  }
  if (!res.ok) {
    const e = (data && data.error) || {};
    throw new ApiError(res.status, e.code || "error", e.message || `${res.status} ${res.statusText}`);
  }
  return data;
}

/* ---- signing in and out, views ---- */

let streamAbort = null;

function signOut(message) {
  localStorage.removeItem("berth-token");
  state.token = null;
  state.containers = [];
  state.selected = null;
  state.rows.clear();
  $("#containers tbody").replaceChildren();
  $("#detail").hidden = true;
  if (streamAbort) streamAbort.abort();
  const dlg = $("#modal");
  if (dlg.open) dlg.close();
  show();
  $("#login-error").textContent = message || "";
}

function show() {
  const signedIn = !!state.token;
  $("#login").hidden = signedIn;
  $("#nav").hidden = !signedIn;
  $("#live").hidden = !signedIn;
  $("#logout").hidden = !signedIn;
  $("#view-containers").hidden = !signedIn || state.view !== "containers";
  $("#view-secrets").hidden = !signedIn || state.view !== "secrets";
  for (const b of document.querySelectorAll("nav .tab")) {
    const on = b.dataset.view === state.view;
    b.classList.toggle("active", on);
    if (on) b.setAttribute("aria-current", "page"); else b.removeAttribute("aria-current");
  }
  if (!signedIn) setTimeout(() => $("#token").focus(), 0);
}

// notice shows message in el (role=alert) with a dismiss button; kind tags
// it so that a later success can clear its own kind of message only.
function notice(el, message, kind) {
  el.replaceChildren();
  el.hidden = !message;
  el.dataset.kind = message ? kind || "action" : "";
  if (!message) return;
  el.append(h("span", {}, message),
    h("button", { type: "button", class: "link", "aria-label": "Dismiss", onclick: () => notice(el, "") }, "×"));
}

function ago(time) {
  if (!time) return "";
  const s = Math.max(0, Math.round((Date.now() - Date.parse(time)) / 1000));
  if (s < 60) return s + "s ago";
  if (s < 3600) return Math.round(s / 60) + "m ago";
  if (s < 86400) return Math.round(s / 3600) + "h ago";
  return new Date(time).toISOString().slice(0, 10);
}

// agoMinutes is ago() to the minute: rows are redrawn once a minute at most.
function agoMinutes(time) {
  const s = (Date.now() - Date.parse(time)) / 1000;
  return s < 60 ? "just now" : ago(time);
}

/* ---- the containers table ---- */

const inProgress = (u) => !!u && !u.finished_at && ["pending", "started", "ready"].includes(u.status);
const UPDATE_WORDS = {
  pending: "new version deploying", started: "health checks", ready: "switching traffic",
  failed: "failed", cancelled: "cancelled",
};
const KIND_WORDS = { tag: "new tag", "edit-config": "edit config", promote: "deploy to prod", retry: "retry" };

function badge(word, cls, title) {
  return h("span", { class: "status " + (cls || word), title: title || null }, word);
}

// statusCell: the container's status, what it is doing, a bar for "40%".
function statusCell(c) {
  const detail = c.status_detail;
  const parts = [badge(c.status)];
  // While running, status_detail speaks of an update's new version: the
  // update cell says that; show it here only while deploying or failed.
  if (detail && c.status !== "running") {
    parts.push(h("div", { class: "detail-line" + (c.status === "failed" ? " error" : ""), "data-detail": "", title: detail }, detail));
    const m = /(\d{1,3})\s*%/.exec(detail);
    if (m && c.status === "deploying")
      parts.push(h("progress", { max: "100", value: String(Math.min(100, +m[1])), "aria-label": detail }));
  }
  return parts;
}

// updateCell: blue-green steps, or the two phases of a recreate.
function updateCell(c) {
  const u = c.update;
  if (!u) return h("span", { class: "muted" }, "—");
  const running = inProgress(u);
  const head = h("div", { class: "update-head" },
    h("span", {}, (KIND_WORDS[u.kind] || u.kind) + " · " + u.strategy + " "),
    updateBadge(u));
  const out = [head];
  if (u.strategy === "recreate") {
    const order = ["stopping", "deploying"];
    const at = order.indexOf(u.phase);
    out.push(h("div", { class: "phases", "aria-label": "recreate phases" }, order.map((p, i) => {
      let cls = "phase";
      if (u.status === "failed" && (i === at || (at < 0 && i === 1))) cls += " bad";
      else if (u.status === "ready" || i < at) cls += " done";
      else if (i === at && running) cls += " now";
      return h("span", { class: cls }, (i + 1) + ". " + (p === "stopping" ? "stopping old" : "deploying new"));
    })));
  } else if (running) {
    const order = ["pending", "started", "ready"];
    const at = order.indexOf(u.status);
    out.push(h("div", { class: "phases", "aria-label": "blue-green steps" }, order.map((p, i) =>
      h("span", { class: "phase" + (i < at ? " done" : i === at ? " now" : "") }, p))));
  }
  if (u.error) out.push(h("div", { class: "error detail-line", "data-update-error": "", title: u.error }, u.error));
  else if (u.finished_at) out.push(h("div", { class: "detail-line", title: u.finished_at }, "finished " + agoMinutes(u.finished_at)));
  return out;
}

function updateBadge(u) {
  if (u.status === "ready" && u.finished_at) return badge("done", "running", "the new version serves all traffic");
  const cls = u.status === "failed" ? "failed" : u.status === "cancelled" ? "cancelled" : "deploying";
  return badge(u.status, cls, UPDATE_WORDS[u.status]);
}

// The isolation level the serving deployment runs at (recorded in its
// measurement): runc, or gvisor's user-space kernel.
const ISOLATION_WORDS = {
  runc: "isolation runc: namespaces, seccomp and cgroups under the hardened OCI runtime",
  gvisor: "isolation gvisor: a user-space kernel (runsc) between the app and the host",
};

function isolationBadge(iso) {
  return h("span", { class: "status isolation " + iso, "data-isolation": iso,
    title: ISOLATION_WORDS[iso] || "isolation " + iso }, iso);
}

// The hosts of the container's enclaves, when berthd drives agents' hosts
// (an enclave on berthd's own host has none): "host a", or during an update
// "host a · new on b".
function hostsLine(c) {
  const list = (c.enclaves || []).filter((e) => e.host);
  if (!list.length) return null;
  const serving = c.host;
  const words = list.map((e) => (e.host === serving && e.deployment === (c.deployment && c.deployment.id))
    ? e.host : `${e.state} on ${e.host}`);
  return h("div", { class: "detail-line", "data-hosts": list.map((e) => e.host).join(","),
    title: "where the container's enclaves run" }, "host " + words.join(" · "));
}

function versionCell(c) {
  const d = c.deployment;
  const tag = (d && d.tag) || (c.source && c.source.tag);
  return [
    h("span", { class: "tag" }, tag || "uploaded config"),
    c.debug ? h("span", { class: "status debug", title: "debug enclave: logs readable, not attested for production" }, "debug") : null,
    c.isolation ? h("div", { class: "detail-line" }, "isolation ", isolationBadge(c.isolation)) : null,
    hostsLine(c),
    d && d.measurement ? h("div", { class: "detail-line mono", title: "measurement " + d.measurement }, "measurement " + short(d.measurement, 12)) : null,
  ];
}

function actions(c) {
  const busy = state.busy.has(c.name);
  const list = [];
  const post = (body, what) => rowAction(c.name, what, () => postUpdate(c.name, body));
  if (inProgress(c.update)) {
    list.push(h("button", { type: "button", disabled: busy,
      onclick: () => rowAction(c.name, "cancel the update", () => api("POST", `/containers/${enc(c.name)}/updates/current/cancel`)) },
    "Cancel update"));
  } else {
    list.push(h("button", { type: "button", disabled: busy, onclick: () => openUpdate(c) }, "Update"));
    if (c.status === "failed" || (c.update && c.update.status === "failed"))
      list.push(h("button", { type: "button", disabled: busy, onclick: () => post({ kind: "retry" }, "retry") }, "Retry"));
  }
  list.push(h("button", { type: "button", class: "danger", disabled: busy, onclick: () => openDelete(c) }, "Delete"));
  return h("div", { class: "actions" }, list);
}

function renderRow(c) {
  return h("tr", { class: c.name === state.selected ? "selected" : null, "data-name": c.name },
    h("td", { "data-cell": "name" },
      h("button", { type: "button", class: "link name", "aria-expanded": String(c.name === state.selected),
        title: "show details", onclick: () => select(c.name) }, c.name),
      c.url ? h("div", { class: "detail-line" }, h("a", { href: c.url, target: "_blank", rel: "noopener", title: c.url },
        c.url.replace(/^https?:\/\//, ""))) : null),
    h("td", { "data-cell": "status" }, statusCell(c)),
    h("td", { "data-cell": "version" }, versionCell(c)),
    h("td", { "data-cell": "update" }, updateCell(c)),
    h("td", { "data-cell": "actions" }, actions(c)));
}

// renderContainers rebuilds only the rows whose container changed, so that
// focus and hover survive the auto-refresh.
function renderContainers() {
  const tbody = $("#containers tbody");
  const failed = state.containers.filter((c) => c.status === "failed").length;
  document.title = failed ? `berth (${failed} failed)` : "berth";
  $("#empty").hidden = state.containers.length > 0;
  $("#containers").hidden = state.containers.length === 0;
  const keep = new Set();
  let prev = null;
  for (const c of state.containers) {
    keep.add(c.name);
    const u = c.update;
    const key = JSON.stringify([c, state.busy.has(c.name), c.name === state.selected,
      u && u.finished_at ? Math.floor((Date.now() - Date.parse(u.finished_at)) / 60000) : 0]);
    let r = state.rows.get(c.name);
    if (!r || r.key !== key) {
      const tr = renderRow(c);
      if (r) r.tr.replaceWith(tr);
      r = { key, tr };
      state.rows.set(c.name, r);
    }
    const want = prev ? prev.nextSibling : tbody.firstChild;
    if (want !== r.tr) tbody.insertBefore(r.tr, want);
    prev = r.tr;
  }
  for (const [name, r] of state.rows) {
    if (!keep.has(name)) { r.tr.remove(); state.rows.delete(name); }
  }
  if (state.selected && !keep.has(state.selected)) {
    state.selected = null;
    $("#detail").hidden = true;
  }
}

// rowAction runs an action of a container's row with its buttons disabled;
// the API's error message shows above the table.
async function rowAction(name, what, fn) {
  state.busy.add(name);
  renderContainers();
  try {
    await fn();
    notice($("#notice"), "");
  } catch (e) {
    if (e.status !== 401) notice($("#notice"), `Could not ${what} ${name}: ${e.message}`);
  } finally {
    state.busy.delete(name);
  }
  await refresh();
}

let refreshing = null;
async function refresh() {
  if (!state.token) return;
  if (refreshing) return refreshing;
  refreshing = (async () => {
    try {
      state.containers = await api("GET", "/containers");
      if ($("#notice").dataset.kind === "load") notice($("#notice"), "");
      renderContainers();
      if (state.selected) await renderDetail();
    } catch (e) {
      if (e.status !== 401) notice($("#notice"), "Could not load the containers: " + e.message, "load");
    }
  })();
  try { await refreshing; } finally { refreshing = null; }
}

async function select(name) {
  state.selected = state.selected === name ? null : name;
  state.detailKey = "";
  renderContainers();
  if (!state.selected) { $("#detail").hidden = true; return; }
  await renderDetail();
}

/* ---- the verification panel ---- */

// A word of a shell command, quoted when it needs to be.
function shellWord(s) {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : "'" + s.replace(/'/g, "'\\''") + "'";
}

// The `berth verify` command that checks what serves c (cli.md#verify): the
// tag's measurement recomputed from the source (what the deployment used:
// debug, isolation, secret names), or the recorded one for an uploaded config;
// berth's CA for a local-CA host; the host key pinned.
function verifyCommand(c, host) {
  const d = c.deployment;
  if (!c.tls_url || !d) return null;
  const args = ["berth", "verify", c.tls_url];
  if (c.source && c.source.repo && d.tag) {
    args.push("--repo", c.source.repo, "--tag", d.tag);
    if (d.debug) args.push("--debug");
    if (d.isolation) args.push("--isolation", d.isolation);
    for (const name of d.secrets || []) args.push("--secret", name);
  } else {
    args.push("--measurement", d.measurement);
  }
  if (host && host.tls_certs === "local-ca") args.push("--ca", "berth-ca.pem");
  if (host && host.host_key) args.push("--host-key", host.host_key);
  return args.map(shellWord).join(" ");
}

// What GET /.well-known/berth-attestation answers on c's host now
// (verification.md#while-held-or-down), as the route berthd gave the router.
function attestationStatus(c) {
  const d = c.deployment;
  const u = c.update && !c.update.finished_at ? c.update : null;
  if (!c.tls_url) return ["off", "TLS is off on this host: berth verify needs https://"];
  if (u && u.strategy === "recreate")
    return ["held", "answered during the gap of the recreate: it describes the new version, the one held requests will reach"];
  if (!d || c.status === "failed")
    return ["down", "not answered (503): no version serves this host now"];
  if (!c.certificate) return ["waiting", "answered over plain HTTP; HTTPS waits for the certificate (certificate.issued)"];
  return ["served", "answered on the host, signed by the host key (tee: none)"];
}

function verifyPanel(c, host) {
  const d = c.deployment;
  const facts = [];
  const fact = (k, key, v) => facts.push(h("dt", {}, k), h("dd", { "data-verify": key }, v));
  const cert = c.certificate;
  const [st, why] = attestationStatus(c);
  fact("Measurement", "measurement", h("span", { class: "mono" }, d ? d.measurement : "—"));
  fact("Source", "source", c.source && c.source.repo ? `${c.source.repo} @ ${d && d.tag ? d.tag : c.source.tag || "?"}` : "uploaded config");
  fact("Commit", "commit", h("span", { class: "mono" }, d && d.commit ? d.commit : "—"));
  fact("TLS URL", "tls_url", c.tls_url || "— (TLS off)");
  fact("Certificate issuer", "issuer", cert ? cert.issuer : "none yet");
  fact("Certificate not after", "not_after", cert ? cert.not_after : "—");
  fact("TLS key sha256", "tls_key", h("span", { class: "mono" }, cert ? cert.public_key_sha256 : "—"));
  fact("Attestation", "attestation", [badge(st, "attest " + st), " " + why]);
  fact("Host key (Ed25519)", "host_key", h("span", { class: "mono" }, host ? host.host_key : "—"));
  fact("TEE", "tee", host ? host.tee : "—");
  const cmd = verifyCommand(c, host);
  const parts = [h("h3", { id: "verify-title" }, "Verify"),
    h("p", { class: "muted" }, "What a client can check without trusting this dashboard: ",
      "the document at ", h("code", {}, "/.well-known/berth-attestation"), " binds the measurement to this TLS key, signed by the host key."),
    h("dl", { class: "facts" }, facts)];
  if (cmd) {
    if (host && host.tls_certs === "local-ca")
      parts.push(h("p", { class: "muted" }, "berth's CA first: ", h("code", {}, "berth ca > berth-ca.pem")));
    parts.push(h("pre", { "data-verify": "command" }, cmd));
  }
  return h("section", { id: "verify", "aria-labelledby": "verify-title" }, parts);
}

/* ---- the detail panel ---- */

async function renderDetail() {
  const c = state.containers.find((x) => x.name === state.selected);
  const box = $("#detail");
  if (!c) { box.hidden = true; return; }
  if (!state.host) state.host = await api("GET", "/host").catch(() => null);
  const [updates, events, logs] = await Promise.all([
    api("GET", `/containers/${enc(c.name)}/updates`).catch(() => []),
    api("GET", `/containers/${enc(c.name)}/events`).catch(() => []),
    c.debug ? api("GET", `/containers/${enc(c.name)}/logs?tail=200`).catch((e) => "(" + e.message + ")") : null,
  ]);
  if (state.selected !== c.name) return;
  const key = JSON.stringify([c, updates, events, logs]);
  if (key === state.detailKey && !box.hidden) return;
  state.detailKey = key;
  const d = c.deployment;
  const u = c.update;
  const parts = [h("div", { class: "bar" }, h("h2", {}, c.name),
    h("button", { type: "button", class: "link", onclick: () => select(c.name) }, "Close details"))];
  const facts = [];
  const fact = (k, v) => facts.push(h("dt", {}, k), h("dd", {}, v));
  fact("Status", [badge(c.status), c.status_detail ? " " + c.status_detail : ""]);
  if (c.url) fact("URL", h("a", { href: c.url, target: "_blank", rel: "noopener" }, c.url));
  if (c.source && c.source.repo) fact("Source", `${c.source.repo} @ ${c.source.tag || "?"}`);
  if (d) {
    fact("Deployment", `${d.id} (${ago(d.created_at)})`);
    fact("Isolation", d.isolation || "—");
    fact("Measurement", h("span", { class: "mono" }, d.measurement || "—"));
    fact("Config sha256", h("span", { class: "mono" }, d.config_sha256 || "—"));
    fact("Images", h("span", { class: "mono" }, (d.images || []).join("\n") || "—"));
    fact("Secrets", (d.secrets || []).join(", ") || "none");
  }
  const env = Object.entries(c.env || {});
  fact("Environment settings", env.length ? env.map(([k, v]) => `${k}=${v}`).join("\n") : "none");
  parts.push(h("dl", { class: "facts" }, facts));
  parts.push(verifyPanel(c, state.host));
  if (u) {
    const title = u.strategy === "recreate" ? "Health checks of the new version (recreate)" : "Health checks of the new version";
    parts.push(h("h3", {}, title));
    parts.push(h("pre", { "data-health-log": "" }, (u.health_log || []).join("\n") || "no health check yet"));
  }
  parts.push(h("h3", {}, "Updates"));
  parts.push(h("pre", {}, (updates || []).map((x) => `${x.created_at}  ${x.kind} · ${x.strategy} · ${x.status}` +
    `${x.phase ? " (" + x.phase + ")" : ""}${x.error ? ": " + x.error : ""}`).join("\n") || "none"));
  parts.push(h("h3", {}, "Events"));
  parts.push(h("pre", {}, (events || []).slice(-50).map((e) => `${e.time}  ${e.kind}  ${e.message}`).join("\n") || "none"));
  if (logs !== null) parts.push(h("h3", {}, "Logs (debug)"), h("pre", {}, logs || "(empty)"));
  if (d) parts.push(h("h3", {}, "Config"), h("pre", {}, d.config || ""));
  box.replaceChildren(...parts);
  box.hidden = false;
}

// postUpdate starts an update of container name and shows berthd's answer (the
// update as it now stands: a recreate's first phase) before the next poll.
async function postUpdate(name, body) {
  const u = await api("POST", `/containers/${enc(name)}/updates`, body);
  const c = state.containers.find((x) => x.name === name);
  if (c && u && u.id) {
    c.update = u;
    renderContainers();
  }
  return u;
}

/* ---- the modal ---- */

let modalSubmit = null;

// modal opens the dialog; onOk returns a promise: while it runs the buttons
// are disabled, an error keeps the dialog open and shows the API's message.
function modal(title, body, okLabel, onOk, opts) {
  const dlg = $("#modal");
  $("#modal-title").textContent = title;
  $("#modal-body").replaceChildren(...body);
  $("#modal-error").textContent = "";
  const ok = $("#modal-ok");
  ok.textContent = okLabel;
  ok.className = "primary" + (opts && opts.danger ? " danger-fill" : "");
  ok.disabled = false;
  ok.dataset.label = okLabel;
  modalSubmit = onOk;
  dlg.showModal();
  const first = $("#modal-body").querySelector("input:not([type=radio]):not([disabled]), textarea, select");
  if (first) first.focus();
}

function setModalOk(label, enabled) {
  const ok = $("#modal-ok");
  ok.textContent = label;
  ok.dataset.label = label;
  ok.disabled = !enabled;
}

async function modalSubmitted(ev) {
  ev.preventDefault();
  const form = $("#modal-form");
  const ok = $("#modal-ok");
  if (ok.disabled || !modalSubmit) return;
  if (!form.reportValidity()) return;
  const label = ok.dataset.label;
  ok.disabled = true;
  ok.textContent = "Working…";
  $("#modal-error").textContent = "";
  try {
    await modalSubmit();
    $("#modal").close();
    await refresh();
  } catch (e) {
    if (e.status !== 401) $("#modal-error").textContent = e.message;
  } finally {
    ok.textContent = label;
    ok.disabled = false;
  }
}

let fieldSeq = 0;
function field(label, input, hint) {
  if (!input.id) input.id = "f" + ++fieldSeq;
  return h("div", { class: "field" }, h("label", { for: input.id }, label), input,
    hint ? h("div", { class: "hint" }, hint) : null);
}
function checkbox(label, input) {
  if (!input.id) input.id = "f" + ++fieldSeq;
  return h("div", { class: "field check" }, input, h("label", { for: input.id }, label));
}
function listValue(s) { return s.split(/[\s,]+/).filter(Boolean); }
function envText(env) { return Object.entries(env || {}).map(([k, v]) => `${k}=${v}`).join("\n"); }
function envValue(s) {
  const env = {};
  for (const [n, line] of s.split("\n").entries()) {
    if (!line.trim()) continue;
    const i = line.indexOf("=");
    if (i <= 0) throw new Error(`Environment settings, line ${n + 1}: expected KEY=value`);
    env[line.slice(0, i).trim()] = line.slice(i + 1);
  }
  return env;
}

async function openUpdate(c) {
  const tabs = h("div", { class: "choices", role: "tablist" });
  const body = h("div", { class: "update-body" });
  let submit = () => { throw new Error("Choose what to update."); };
  let seq = 0;
  const kinds = [["tag", "New tag"], ["edit-config", "Edit config"]];
  if (c.debug) kinds.push(["promote", "Deploy to prod"]);
  const pick = async (which) => {
    const my = ++seq;
    for (const b of tabs.children) {
      const on = b.dataset.k === which;
      b.classList.toggle("active", on);
      b.setAttribute("aria-selected", String(on));
    }
    body.replaceChildren();
    $("#modal-error").textContent = "";
    if (which === "tag") {
      submit = () => { throw new Error("Choose a tag."); };
      if (!c.source || !c.source.repo) {
        body.append(h("p", { class: "muted" }, `${c.name} was deployed from an uploaded config and has no Git repository: use Edit config.`));
        setModalOk("Deploy tag", false);
        return;
      }
      setModalOk("Deploy tag", false);
      const list = h("fieldset", { class: "tags" }, h("legend", {}, "New Git tag"), h("p", { class: "muted" }, "Loading the repository's tags…"));
      body.append(list);
      let tags;
      try {
        tags = await api("GET", `/containers/${enc(c.name)}/tags`);
      } catch (e) {
        if (my === seq) list.replaceChildren(h("legend", {}, "New Git tag"), h("p", { class: "error" }, e.message));
        return;
      }
      if (my !== seq) return;
      const current = c.deployment && c.deployment.tag;
      const radios = [];
      list.replaceChildren(h("legend", {}, "New Git tag"));
      if (!tags.length) list.append(h("p", { class: "muted" }, "The repository has no tags."));
      for (const t of tags) {
        const id = "tag-" + ++fieldSeq;
        const r = h("input", { type: "radio", name: "tag", id, value: t.tag, disabled: !t.valid });
        radios.push(r);
        list.append(h("div", { class: "tag-choice" + (t.valid ? "" : " invalid"), "data-tag": t.tag }, r,
          h("label", { for: id }, h("b", {}, t.tag), " ", h("span", { class: "mono muted" }, short(t.commit, 8)),
            t.tag === current ? h("span", { class: "status running" }, "current") : null,
            t.valid ? null : h("span", { class: "status failed" }, "invalid")),
          t.valid ? null : h("div", { class: "error detail-line" }, t.error || "invalid config")));
      }
      const first = radios.find((r) => !r.disabled && r.value !== current);
      if (first) first.checked = true;
      const sync = () => setModalOk("Deploy tag", radios.some((r) => r.checked));
      list.addEventListener("change", sync);
      sync();
      submit = () => {
        const r = radios.find((x) => x.checked);
        if (!r) throw new Error("Choose a tag.");
        return postUpdate(c.name, { kind: "tag", tag: r.value });
      };
    } else if (which === "edit-config") {
      setModalOk("Redeploy", false);
      let cur;
      try {
        cur = await api("GET", `/containers/${enc(c.name)}`);
      } catch (e) {
        if (my === seq) body.append(h("p", { class: "error" }, e.message));
        return;
      }
      if (my !== seq) return;
      const d = cur.deployment || {};
      const cfg = h("textarea", { id: "update-config", spellcheck: "false", value: d.config || "" });
      const secrets = h("input", { id: "update-secrets", value: (d.secrets || []).join(", "), placeholder: "API_KEY, OTHER" });
      const env = h("textarea", { id: "update-env", class: "short", spellcheck: "false", placeholder: "KEY=value, one per line",
        value: envText(cur.env) });
      const debug = h("input", { type: "checkbox", id: "update-debug", checked: !!cur.debug });
      body.append(h("p", { class: "muted" }, `Redeploys ${d.tag ? "tag " + d.tag : "the current deployment"} with this config, blue-green` +
          " (recreate on a GPU host). The current version keeps serving until the new one is healthy."),
        field("Config (tinfoil-config.yml)", cfg),
        field("Secrets", secrets, "names of org secrets to bind, besides those the config names"),
        field("Environment settings", env, "values for the config's env entries without a value"),
        checkbox("Debug enclave", debug));
      const secretsWas = secrets.value;
      setModalOk("Redeploy", true);
      submit = () => {
        const body2 = { kind: "edit-config", config: cfg.value, env: envValue(env.value) };
        if (secrets.value !== secretsWas) body2.secrets = listValue(secrets.value);
        if (debug.checked !== !!cur.debug) body2.debug = debug.checked;
        return postUpdate(c.name, body2);
      };
    } else {
      body.append(h("p", {}, `Redeploys ${c.name}'s current deployment as a production enclave (debug off), blue-green. ` +
        "Its logs will no longer be readable."));
      setModalOk("Deploy to prod", true);
      submit = () => postUpdate(c.name, { kind: "promote" });
    }
  };
  for (const [k, label] of kinds)
    tabs.append(h("button", { type: "button", class: "tab", role: "tab", "data-k": k, onclick: () => pick(k) }, label));
  modal(`Update ${c.name}`, [tabs, body], "Deploy tag", () => submit());
  await pick(c.source && c.source.repo ? "tag" : "edit-config");
}

function openDelete(c) {
  const confirmInput = h("input", { id: "delete-confirm", autocomplete: "off", spellcheck: "false" });
  const sync = () => { $("#modal-ok").disabled = confirmInput.value !== c.name; };
  confirmInput.addEventListener("input", sync);
  modal(`Delete ${c.name}`, [
    h("p", {}, "This permanently:"),
    h("ul", {}, h("li", {}, "stops the running enclave,"), h("li", {}, "cancels any update in progress,"),
      h("li", {}, "deletes the container's secret bindings,"),
      h("li", {}, "removes it from your org, with its configuration and environment settings.")),
    h("p", { class: "error" }, "It cannot be undone."),
    field(`Type ${c.name} to confirm`, confirmInput)], "Delete", async () => {
    if (confirmInput.value !== c.name) throw new Error("The name does not match.");
    await api("DELETE", `/containers/${enc(c.name)}`);
    if (state.selected === c.name) { state.selected = null; $("#detail").hidden = true; }
  }, { danger: true });
  sync();
}

function openCreate() {
  const name = h("input", { id: "create-name", required: true, autocomplete: "off", spellcheck: "false" });
  const fromGit = h("input", { type: "radio", name: "create-source", id: "create-from-git", checked: true });
  const fromCfg = h("input", { type: "radio", name: "create-source", id: "create-from-config" });
  const repo = h("input", { id: "create-repo", placeholder: "/srv/git/app or https://…", required: true, spellcheck: "false" });
  const tag = h("input", { id: "create-tag", placeholder: "v1", required: true, spellcheck: "false" });
  const cfg = h("textarea", { id: "create-config", spellcheck: "false", placeholder: "cvm-version: …\ncontainers:\n  - name: …" });
  const secrets = h("input", { id: "create-secrets", placeholder: "API_KEY, OTHER" });
  const env = h("textarea", { id: "create-env", class: "short", spellcheck: "false", placeholder: "KEY=value, one per line" });
  const debug = h("input", { type: "checkbox", id: "create-debug" });
  const git = h("div", {}, field("Git repository", repo), field("Tag", tag));
  const upload = h("div", { hidden: true }, field("Config (tinfoil-config.yml)", cfg));
  const sync = () => {
    git.hidden = !fromGit.checked;
    upload.hidden = fromGit.checked;
    repo.required = tag.required = fromGit.checked;
    cfg.required = !fromGit.checked;
  };
  fromGit.addEventListener("change", sync);
  fromCfg.addEventListener("change", sync);
  modal("New container", [field("Name", name),
    h("fieldset", { class: "inline" }, h("legend", {}, "Source"),
      fromGit, h("label", { for: fromGit.id }, "Git tag"), fromCfg, h("label", { for: fromCfg.id }, "Uploaded config")),
    git, upload, field("Secrets", secrets, "names of org secrets to bind, besides those the config names"),
    field("Environment settings", env, "values for the config's env entries without a value"),
    checkbox("Debug enclave (logs readable, not for production)", debug)],
  "Create", () => {
    const body = { name: name.value.trim(), debug: debug.checked };
    if (secrets.value.trim()) body.secrets = listValue(secrets.value);
    if (env.value.trim()) body.env = envValue(env.value);
    if (fromGit.checked) { body.repo = repo.value.trim(); body.tag = tag.value.trim(); } else body.config = cfg.value;
    return api("POST", "/containers", body);
  });
  sync();
}

/* ---- secrets ---- */

async function refreshSecrets() {
  const tbody = $("#secrets tbody");
  try {
    const list = await api("GET", "/secrets");
    $("#secrets-empty").hidden = list.length > 0;
    $("#secrets").hidden = list.length === 0;
    tbody.replaceChildren(...list.map((s) => h("tr", { "data-name": s.name },
      h("td", { class: "mono" }, s.name),
      h("td", { "data-cell": "bound" }, (s.bound_to || []).join(", ") || h("span", { class: "muted" }, "—")),
      h("td", { title: s.updated_at }, ago(s.updated_at)),
      h("td", {}, h("div", { class: "actions" }, h("button", { type: "button", class: "danger",
        onclick: (ev) => deleteSecret(s.name, ev.currentTarget) }, "Delete"))))));
  } catch (e) {
    if (e.status !== 401) notice($("#secret-error"), "Could not load the secrets: " + e.message);
  }
}

async function deleteSecret(name, button) {
  button.disabled = true;
  try {
    await api("DELETE", `/secrets/${enc(name)}`);
    notice($("#secret-error"), "");
  } catch (e) {
    if (e.status !== 401) notice($("#secret-error"), `Could not delete ${name}: ${e.message}`);
  } finally {
    button.disabled = false;
  }
  await refreshSecrets();
}

/* ---- live updates ---- */

// The org's event stream, read with fetch so that the token can be sent.
async function stream() {
  for (;;) {
    if (!state.token) { await sleep(500); continue; }
    const ctl = new AbortController();
    streamAbort = ctl;
    try {
      const res = await fetch(API + "/events/stream", { headers: { Authorization: "Bearer " + state.token }, signal: ctl.signal });
      if (!res.ok || !res.body) throw new Error("stream " + res.status);
      setLive(true);
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true }).replace(/\r\n/g, "\n");
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const msg = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (msg.split("\n").some((l) => l.startsWith("data:"))) scheduleRefresh();
        }
      }
    } catch (e) { /* reconnect below */ }
    setLive(false);
    await sleep(2000);
  }
}

function setLive(on) {
  const el = $("#live");
  el.classList.toggle("on", on);
  el.title = on ? "live updates: connected" : "live updates: reconnecting (polling meanwhile)";
}

let refreshTimer = null;
function scheduleRefresh() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    if (state.view === "containers") refresh(); else refreshSecrets();
  }, 150);
}

function init() {
  $("#login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = $("#login-form button");
    state.token = $("#token").value.trim();
    button.disabled = true;
    $("#login-error").textContent = "";
    try {
      await api("GET", "/containers");
      localStorage.setItem("berth-token", state.token);
      $("#token").value = "";
      state.view = "containers";
      show();
      await refresh();
    } catch (e) {
      if (e.status !== 401) { state.token = null; $("#login-error").textContent = e.message; }
    } finally {
      button.disabled = false;
    }
  });
  $("#logout").addEventListener("click", () => signOut());
  $("#new-container").addEventListener("click", openCreate);
  $("#modal-form").addEventListener("submit", modalSubmitted);
  $("#modal-close").addEventListener("click", () => $("#modal").close());
  for (const b of document.querySelectorAll("nav .tab"))
    b.addEventListener("click", () => {
      state.view = b.dataset.view;
      show();
      if (state.view === "secrets") refreshSecrets(); else refresh();
    });
  $("#secret-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = $("#secret-form button");
    const name = $("#secret-name").value.trim();
    button.disabled = true;
    try {
      await api("PUT", `/secrets/${enc(name)}`, { value: $("#secret-value").value });
      $("#secret-name").value = "";
      $("#secret-value").value = "";
      notice($("#secret-error"), "");
    } catch (e) {
      if (e.status !== 401) notice($("#secret-error"), `Could not set ${name}: ${e.message}`);
    } finally {
      button.disabled = false;
    }
    await refreshSecrets();
  });
  show();
  refresh();
  setInterval(() => {
    if (!state.token || document.hidden) return;
    if (state.view === "containers") refresh();
  }, POLL_MS);
  stream();
}

init();
