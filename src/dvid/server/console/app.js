// The console's entry: top bar, hash routes (#/, #/repo/<root>[/<uuid>], #/jobs, #/help[/<type>])
// and the admin token. Plain ES modules: nothing to build.

import { adminToken, getJSON, h, loadCaps, loadRepos, setAdminToken, state, toast } from "./api.js";
import { renderHelp } from "./help.js";
import { renderJobs, watchBadge } from "./jobs.js";
import { renderOverview } from "./overview.js";
import { renderRepo, updateRepo } from "./repo.js";
import { closeViewer } from "./viewer.js";

const main = document.getElementById("main");
let cleanup = null;
let routing = Promise.resolve();

function setNav(name) {
  for (const a of document.querySelectorAll("[data-nav]")) a.classList.toggle("active", a.dataset.nav === name);
}

async function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  closeViewer();
  if (parts[0] === "repo" && parts[1]) {
    setNav("overview");
    if (!state.repos?.[parts[1]]) await loadRepos();
    if (updateRepo(main, parts[1], parts[2])) return;
    cleanup?.();
    cleanup = renderRepo(main, parts[1], parts[2]);
    document.title = `${state.repos[parts[1]]?.Alias || "repo"} · DVID console`;
    return;
  }
  cleanup?.();
  cleanup = null;
  if (parts[0] === "jobs") {
    setNav("jobs");
    document.title = "Jobs · DVID console";
    cleanup = renderJobs(main);
  } else if (parts[0] === "help") {
    setNav("help");
    document.title = "API help · DVID console";
    cleanup = await renderHelp(main, parts[1]);
  } else {
    setNav("overview");
    document.title = "DVID console";
    cleanup = await renderOverview(main);
  }
}

function onRoute() {
  // one route at a time, so a fast double click never draws two views into one page
  routing = routing.then(route).catch((e) => {
    main.replaceChildren(h("div.card.error-card", h("h2", "Could not load this page"), h("pre", String(e.message || e))));
  });
}

function modeBadge() {
  const caps = state.caps;
  const el = document.getElementById("mode");
  const [text, cls, title] = caps.readonly
    ? ["read-only", "readonly", "the server accepts only GET and HEAD (admin token excepted)"]
    : caps.writes
      ? [caps.admin ? "admin" : "writable", "writable", "write actions are offered"]
      : ["view only", "readonly", "writes need the admin token"];
  el.textContent = text;
  el.className = "pill mode " + cls;
  el.title = title;
}

function adminControl() {
  const caps = state.caps;
  const slot = document.getElementById("admin");
  if (!caps.admin_token_configured) {
    slot.replaceChildren();
    return;
  }
  if (caps.admin) {
    slot.replaceChildren(h("button.small", { "data-action": "forget-token", onclick: async () => {
      setAdminToken("");
      await refreshCaps();
      toast("admin token forgotten");
    } }, "Forget admin token"));
    return;
  }
  const input = h("input", { type: "password", placeholder: "admin token", "aria-label": "admin token", autocomplete: "off" });
  const form = h("form.admin-form", input, h("button.small", { type: "submit" }, "Unlock writes"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    setAdminToken(input.value.trim());
    await refreshCaps();
    if (state.caps.admin) toast("admin token accepted: write actions enabled");
    else {
      setAdminToken("");
      await refreshCaps();
      toast("that is not the server's admin token", "error");
    }
  });
  slot.replaceChildren(form);
}

async function refreshCaps() {
  await loadCaps();
  modeBadge();
  adminControl();
  onRoute();
}

async function start() {
  await loadCaps();
  if (adminToken() && !state.caps.admin) setAdminToken("");
  const info = await getJSON("/api/server/info");
  state.info = info;
  document.getElementById("host").textContent = info.Host || location.host;
  document.getElementById("version").textContent = info["DVID Version"] || "";
  modeBadge();
  adminControl();
  watchBadge(document.getElementById("jobs-badge"));
  window.addEventListener("hashchange", onRoute);
  onRoute();
}

start().catch((e) => {
  main.replaceChildren(h("div.card.error-card", h("h2", "The server did not answer"), h("pre", String(e.message || e))));
});
