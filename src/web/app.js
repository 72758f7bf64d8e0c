// berth dashboard: plain JavaScript over the REST API (API.md), no build step.
// It refreshes by itself: a poll every few seconds, and the org's event stream
// read with fetch (EventSource cannot send the bearer token) for quick updates.
"use strict";

const API = "/api/v1";
const POLL_MS = 3000;
const state = { token: localStorage.getItem("berth-token"), containers: [], selected: null, view: "containers" };

// h builds an element; text goes through textContent, never innerHTML.
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
const $ = (sel) => document.querySelector(sel);

class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

async function api(method, path, body) {
  const opts = { method, headers: { Authorization: "Bearer " + state.token } };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const res = await fetch(API + path, opts);
  if (res.status === 401) { signOut("Your token was refused."); throw new ApiError(401, "unauthorized", "unauthorized"); }
  const type = res.headers.get("Content-Type") || "";
  const data = type.startsWith("application/json") ? await res.json() : await res.text();
  if (!res.ok) {
    const e = (data && data.error) || {};
    throw new ApiError(res.status, e.code || "error", e.message || res.statusText);
  }
  return data;
}

function signOut(message) {
  localStorage.removeItem("berth-token");
  state.token = null;
  show();
  $("#login-error").textContent = message || "";
}

function show() {
  const signedIn = !!state.token;
  $("#login").hidden = signedIn;
  $("#view-containers").hidden = !signedIn || state.view !== "containers";
  $("#view-secrets").hidden = !signedIn || state.view !== "secrets";
  $("#logout").hidden = !signedIn;
  for (const b of document.querySelectorAll("nav .tab")) b.classList.toggle("active", b.dataset.view === state.view);
}

function ago(time) {
  if (!time) return "";
  const s = Math.round((Date.now() - Date.parse(time)) / 1000);
  if (s < 60) return s + "s ago";
  if (s < 3600) return Math.round(s / 60) + "m ago";
  if (s < 86400) return Math.round(s / 3600) + "h ago";
  return new Date(time).toISOString().slice(0, 10);
}

const inProgress = (u) => u && !u.finished_at && ["pending", "started", "ready"].includes(u.status);

// The update cell: blue-green statuses, or the two phases of a recreate.
function updateCell(c) {
  const u = c.update;
  if (!u) return h("span", { class: "muted" }, "—");
  const label = `${u.kind} · ${u.strategy}`;
  if (u.strategy === "recreate") {
    const order = ["stopping", "deploying"];
    const at = order.indexOf(u.phase);
    const phases = order.map((p, i) => {
      let cls = "phase";
      if (u.status === "failed" && (i === at || (at < 0 && i === 1))) cls += " bad";
      else if (!inProgress(u) && u.status === "ready") cls += " done";
      else if (i < at) cls += " done";
      else if (i === at && inProgress(u)) cls += " now";
      return h("span", { class: cls }, (i + 1) + ". " + (p === "stopping" ? "stopping old" : "deploying new"));
    });
    return h("div", {}, h("div", {}, label, " ", statusWord(u)), h("div", { class: "phases" }, phases));
  }
  return h("div", {}, label, " ", statusWord(u), u.error ? h("div", { class: "error detail-line" }, u.error) : null);
}

function statusWord(u) {
  const done = u.status === "ready" && u.finished_at;
  const word = done ? "done" : u.status;
  const cls = u.status === "failed" ? "failed" : done ? "running" : u.status === "cancelled" ? "" : "deploying";
  return h("span", { class: "status " + cls }, word);
}

function renderContainers() {
  const tbody = $("#containers tbody");
  tbody.replaceChildren();
  $("#empty").hidden = state.containers.length > 0;
  for (const c of state.containers) {
    const d = c.deployment;
    const tr = h("tr", { class: c.name === state.selected ? "selected" : "", "data-name": c.name },
      h("td", {}, h("button", { class: "link", onclick: () => select(c.name) }, c.name),
        h("div", { class: "detail-line" }, h("a", { href: c.url, target: "_blank", rel: "noopener" }, c.url))),
      h("td", {}, h("span", { class: "status " + c.status }, c.status),
        c.status_detail ? h("div", { class: "detail-line" + (c.status === "failed" ? " error" : "") }, c.status_detail) : null),
      h("td", {}, (c.source && c.source.tag) || (d && d.tag) || "config",
        c.debug ? h("span", { class: "status deploying", title: "debug deployment" }, " debug") : null,
        d ? h("div", { class: "detail-line", title: d.measurement }, "measurement " + d.measurement.slice(0, 12)) : null),
      h("td", {}, updateCell(c)),
      h("td", {}, actions(c)));
    tbody.append(tr);
  }
  if (state.selected && !state.containers.some((c) => c.name === state.selected)) {
    state.selected = null;
    $("#detail").hidden = true;
  }
}

function actions(c) {
  const list = [];
  if (inProgress(c.update)) {
    list.push(h("button", { onclick: () => act(() => api("POST", `/containers/${enc(c.name)}/updates/current/cancel`)) }, "Cancel update"));
  } else {
    list.push(h("button", { onclick: () => openUpdate(c) }, "Update"));
    if (c.status === "failed" || (c.update && c.update.status === "failed"))
      list.push(h("button", { onclick: () => act(() => api("POST", `/containers/${enc(c.name)}/updates`, { kind: "retry" })) }, "Retry"));
  }
  list.push(h("button", { class: "danger", onclick: () => openDelete(c) }, "Delete"));
  return h("div", { class: "row", style: "margin:0" }, list);
}

const enc = encodeURIComponent;

async function act(fn) {
  try { await fn(); } catch (e) { if (e.status !== 401) alert(e.message); }
  await refresh();
}

async function refresh() {
  if (!state.token) return;
  try {
    state.containers = await api("GET", "/containers");
    renderContainers();
    if (state.selected) await renderDetail();
  } catch (e) { /* shown on the next successful poll */ }
}

async function select(name) {
  state.selected = name;
  renderContainers();
  await renderDetail();
}

async function renderDetail() {
  const c = state.containers.find((x) => x.name === state.selected);
  const box = $("#detail");
  if (!c) { box.hidden = true; return; }
  const [updates, events] = await Promise.all([
    api("GET", `/containers/${enc(c.name)}/updates`).catch(() => []),
    api("GET", `/containers/${enc(c.name)}/events`).catch(() => []),
  ]);
  const d = c.deployment;
  const u = c.update;
  const parts = [h("h2", {}, c.name)];
  if (d) {
    parts.push(h("p", { class: "detail-line" }, `deployment ${d.id} · config sha256 ${d.config_sha256.slice(0, 16)} · measurement ${d.measurement}`));
    parts.push(h("p", { class: "detail-line" }, "images: " + d.images.join(", ")));
    if (d.secrets.length) parts.push(h("p", { class: "detail-line" }, "secrets: " + d.secrets.join(", ")));
  }
  if (u && u.health_log && u.health_log.length) {
    parts.push(h("h3", {}, "Health checks of the new version"));
    parts.push(h("pre", {}, u.health_log.join("\n")));
  }
  parts.push(h("h3", {}, "Updates"));
  parts.push(h("pre", {}, updates.map((x) => `${x.created_at} ${x.kind} ${x.strategy} ${x.status}${x.phase ? " (" + x.phase + ")" : ""}${x.error ? ": " + x.error : ""}`).join("\n") || "none"));
  parts.push(h("h3", {}, "Events"));
  parts.push(h("pre", {}, events.slice(-50).map((e) => `${e.time} ${e.kind} ${e.message}`).join("\n") || "none"));
  if (c.debug) {
    const logs = await api("GET", `/containers/${enc(c.name)}/logs?tail=200`).catch((e) => e.message);
    parts.push(h("h3", {}, "Logs (debug)"), h("pre", {}, logs));
  }
  if (d) parts.push(h("h3", {}, "Config"), h("pre", {}, d.config));
  box.replaceChildren(...parts);
  box.hidden = false;
}

// modal opens the dialog; onOk returns a promise, an error keeps it open.
function modal(title, body, okLabel, onOk) {
  const dlg = $("#modal");
  $("#modal-title").textContent = title;
  $("#modal-body").replaceChildren(...body);
  $("#modal-error").textContent = "";
  $("#modal-ok").textContent = okLabel;
  $("#modal-ok").onclick = async (ev) => {
    ev.preventDefault();
    try {
      await onOk();
      dlg.close();
      await refresh();
    } catch (e) {
      $("#modal-error").textContent = e.message;
    }
  };
  dlg.showModal();
}

function field(label, input) { return [h("label", {}, label), input]; }
function listValue(s) { return s.split(/[\s,]+/).filter(Boolean); }
function envValue(s) {
  const env = {};
  for (const line of s.split("\n")) {
    const i = line.indexOf("=");
    if (line.trim() && i > 0) env[line.slice(0, i).trim()] = line.slice(i + 1);
  }
  return env;
}

async function openUpdate(c) {
  const choices = h("div", { class: "choices" });
  const body = h("div");
  let submit = null;
  const pick = async (which) => {
    for (const b of choices.children) b.classList.toggle("active", b.dataset.k === which);
    body.replaceChildren();
    if (which === "tag") {
      const sel = h("select", { id: "update-tag" });
      body.append(...field("New Git tag", sel));
      try {
        const tags = await api("GET", `/containers/${enc(c.name)}/tags`);
        for (const t of tags)
          sel.append(h("option", { value: t.tag, disabled: !t.valid, title: t.error || "" },
            `${t.tag} (${t.commit.slice(0, 8)})${t.valid ? "" : " invalid: " + (t.error || "")}`));
      } catch (e) { body.append(h("p", { class: "error" }, e.message)); }
      submit = () => api("POST", `/containers/${enc(c.name)}/updates`, { kind: "tag", tag: sel.value });
    } else if (which === "edit-config") {
      const cur = await api("GET", `/containers/${enc(c.name)}`);
      const d = cur.deployment || {};
      const cfg = h("textarea", { id: "update-config" });
      cfg.value = d.config || "";
      const secrets = h("input", { id: "update-secrets", value: (d.secrets || []).join(", ") });
      const env = h("textarea", { id: "update-env", style: "min-height:4rem", placeholder: "KEY=value, one per line" });
      const debug = h("input", { type: "checkbox", id: "update-debug", checked: cur.debug });
      body.append(...field("Config (tinfoil-config.yml)", cfg), ...field("Secrets", secrets),
        ...field("Environment settings", env), h("label", {}, debug, " debug"));
      submit = () => api("POST", `/containers/${enc(c.name)}/updates`, {
        kind: "edit-config", config: cfg.value, secrets: listValue(secrets.value),
        env: envValue(env.value), debug: debug.checked });
    } else {
      body.append(h("p", {}, "Redeploy the current deployment as a production enclave (debug off), blue-green."));
      submit = () => api("POST", `/containers/${enc(c.name)}/updates`, { kind: "promote" });
    }
  };
  const kinds = [["tag", "New tag"], ["edit-config", "Edit config"]];
  if (c.debug) kinds.push(["promote", "Deploy to prod"]);
  for (const [k, label] of kinds)
    choices.append(h("button", { type: "button", class: "tab", "data-k": k, onclick: () => pick(k) }, label));
  modal(`Update ${c.name}`, [choices, body], "Update", () => submit());
  await pick("tag");
}

function openDelete(c) {
  const confirmInput = h("input", { id: "delete-confirm", placeholder: c.name });
  modal(`Delete ${c.name}`, [
    h("p", {}, "This stops the running enclave, cancels any update in progress, deletes the container's secret bindings and removes it from your org. It cannot be undone."),
    ...field(`Type ${c.name} to confirm`, confirmInput)], "Delete", async () => {
    if (confirmInput.value !== c.name) throw new Error("The name does not match.");
    await api("DELETE", `/containers/${enc(c.name)}`);
    if (state.selected === c.name) state.selected = null;
  });
}

function openCreate() {
  const name = h("input", { id: "create-name", required: true, placeholder: "web" });
  const repo = h("input", { id: "create-repo", placeholder: "/srv/git/app or https://…" });
  const tag = h("input", { id: "create-tag", placeholder: "v1" });
  const cfg = h("textarea", { id: "create-config", placeholder: "or paste a tinfoil-config.yml" });
  const secrets = h("input", { id: "create-secrets", placeholder: "API_KEY, OTHER" });
  const debug = h("input", { type: "checkbox", id: "create-debug" });
  modal("New container", [...field("Name", name), ...field("Git repository", repo), ...field("Tag", tag),
    ...field("Config (instead of a repository)", cfg), ...field("Secrets", secrets), h("label", {}, debug, " debug")],
  "Create", () => {
    const body = { name: name.value, debug: debug.checked, secrets: listValue(secrets.value) };
    if (cfg.value.trim()) body.config = cfg.value;
    else { body.repo = repo.value; body.tag = tag.value; }
    return api("POST", "/containers", body);
  });
}

async function refreshSecrets() {
  const tbody = $("#secrets tbody");
  try {
    const list = await api("GET", "/secrets");
    tbody.replaceChildren(...list.map((s) => h("tr", {},
      h("td", {}, s.name), h("td", {}, s.bound_to.join(", ") || "—"), h("td", {}, ago(s.updated_at)),
      h("td", {}, h("button", { class: "danger", onclick: () => act(async () => {
        await api("DELETE", `/secrets/${enc(s.name)}`);
        await refreshSecrets();
      }) }, "Delete")))));
  } catch (e) { $("#secret-error").textContent = e.message; }
}

// The org's event stream, read with fetch so that the token can be sent.
async function stream() {
  for (;;) {
    if (!state.token) { await sleep(1000); continue; }
    try {
      const res = await fetch(API + "/events/stream", { headers: { Authorization: "Bearer " + state.token } });
      if (!res.ok || !res.body) throw new Error("stream " + res.status);
      $("#live").classList.add("on");
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const msg = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (msg.split("\n").some((l) => l.startsWith("data:"))) scheduleRefresh();
        }
      }
    } catch (e) { /* reconnect below */ }
    $("#live").classList.remove("on");
    await sleep(2000);
  }
}

let refreshTimer = null;
function scheduleRefresh() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => { refreshTimer = null; refresh(); }, 150);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function init() {
  $("#login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    state.token = $("#token").value.trim();
    try {
      await api("GET", "/containers");
      localStorage.setItem("berth-token", state.token);
      $("#login-error").textContent = "";
      show();
      refresh();
    } catch (e) { if (e.status !== 401) $("#login-error").textContent = e.message; }
  });
  $("#logout").addEventListener("click", () => signOut());
  $("#new-container").addEventListener("click", openCreate);
  for (const b of document.querySelectorAll("nav .tab"))
    b.addEventListener("click", () => {
      state.view = b.dataset.view;
      show();
      if (state.view === "secrets") refreshSecrets(); else refresh();
    });
  $("#secret-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api("PUT", `/secrets/${enc($("#secret-name").value)}`, { value: $("#secret-value").value });
      $("#secret-value").value = "";
      $("#secret-error").textContent = "";
      await refreshSecrets();
    } catch (e) { $("#secret-error").textContent = e.message; }
  });
  show();
  refresh();
  setInterval(() => { if (state.view === "containers") refresh(); }, POLL_MS);
  stream();
}

init();
