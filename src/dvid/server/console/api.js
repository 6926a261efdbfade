// Talking to the server (the ordinary DVID API) and small helpers shared by the views.

const TOKEN_KEY = "dvid-console-admintoken";

export const state = {
  caps: null, // /console/server.json: what this server allows
  info: null, // /api/server/info
  repos: null, // /api/repos/info, keyed by root UUID
};

export function adminToken() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setAdminToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export class ApiError extends Error {
  constructor(status, message, path) {
    super(message);
    this.status = status;
    this.path = path;
  }
}

async function check(resp, path) {
  if (!resp.ok) {
    const text = (await resp.text()).trim();
    throw new ApiError(resp.status, text || `${resp.status} ${resp.statusText}`, path);
  }
  return resp;
}

export async function getJSON(path) {
  const resp = await check(await fetch(path, { cache: "no-store" }), path);
  return resp.json();
}

export async function getText(path) {
  const resp = await check(await fetch(path, { cache: "no-store" }), path);
  return resp.text();
}

/** POST JSON to a write endpoint, with the admin token when one was entered. */
export async function postJSON(path, body) {
  const token = adminToken();
  const url = token ? `${path}?admintoken=${encodeURIComponent(token)}` : path;
  const resp = await check(
    await fetch(url, { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" } }),
    path,
  );
  const text = await resp.text();
  return text ? JSON.parse(text) : {};
}

export async function loadCaps() {
  const token = adminToken();
  state.caps = await getJSON("/console/server.json" + (token ? `?admintoken=${encodeURIComponent(token)}` : ""));
  return state.caps;
}

export async function loadRepos() {
  state.repos = await getJSON("/api/repos/info");
  return state.repos;
}

/** The repo (root UUID and JSON) whose DAG holds ``uuid`` (a full UUID or a unique prefix). */
export function repoOfNode(uuid) {
  for (const [root, repo] of Object.entries(state.repos || {})) {
    for (const u of Object.keys(repo.DAG.Nodes)) if (u.startsWith(uuid)) return [root, repo, u];
  }
  return [null, null, null];
}

// ------------------------------------------------------------------------------- DOM helpers
const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
export function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ESC[c]);
}

/** Build an element: h("div.card#id", {attrs}, children...). Strings become text nodes. */
export function h(tag, attrs, ...children) {
  const m = tag.match(/^([a-z0-9]+)((?:[.#][\w-]+)*)$/i);
  const el = document.createElement(m[1]);
  for (const part of m[2].match(/[.#][\w-]+/g) || []) {
    if (part[0] === ".") el.classList.add(part.slice(1));
    else el.id = part.slice(1);
  }
  if (attrs && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "html") el.innerHTML = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function short(uuid) {
  return String(uuid).slice(0, 8);
}

export function fmtNumber(n) {
  return Number(n).toLocaleString("en-US");
}

export function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString("sv-SE", { hour12: false }).replace("T", " ");
}

export function fmtDuration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

let toastBox = null;
/** A message in the corner; errors stay until clicked. */
export function toast(message, kind = "info") {
  if (!toastBox) {
    toastBox = h("div.toasts", { role: "status", "aria-live": "polite" });
    document.body.append(toastBox);
  }
  const t = h("div.toast." + kind, { onclick: () => t.remove(), title: "click to dismiss" }, message);
  toastBox.append(t);
  if (kind !== "error") setTimeout(() => t.remove(), 4000);
}

/** Run ``fn`` now and every ``ms`` while ``alive()``; returns a stop function. */
export function poll(fn, ms, alive = () => true) {
  let timer = null;
  let stopped = false;
  const tick = async () => {
    if (stopped || !alive()) return;
    try {
      await fn();
    } catch (e) {
      console.warn("poll failed", e);
    }
    if (!stopped && alive()) timer = setTimeout(tick, typeof ms === "function" ? ms() : ms);
  };
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
