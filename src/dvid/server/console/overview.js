// The landing page: the server (version, mode, stores and their engines, load) and its repos.

import { fmtNumber, fmtTime, getJSON, h, loadRepos, poll, short, state } from "./api.js";
import { branchLabel } from "./dag.js";
import { jobsSummary } from "./jobs.js";

const LOAD_KEYS = [
  ["GET requests", "GET/s"],
  ["PUT requests", "writes/s"],
  ["handlers active", "handlers %"],
  ["goroutines", "active requests"],
];
const HISTORY = 60;

function serverCard(info, caps) {
  const rows = [
    ["version", info["DVID Version"]],
    ["datastore", info["Datastore Version"]],
    ["host", info.Host],
    ["mode", info.Mode || "read/write"],
    ["cores", `${info.Cores} (max ${info["Maximum Cores"]})`],
    ["uptime", info["Server uptime"]],
    ["server time", fmtTime(info["Server time"])],
    ["commands", info["RPC Address"]],
    ["config", info["TOML location"] || "defaults (no file)"],
  ];
  if (info.Note) rows.push(["note", info.Note]);
  if (caps.admin_token_configured) rows.push(["admin token", caps.admin ? "entered: write actions enabled" : "configured: enter it to write"]);
  return h(
    "section.card.server-card",
    h("h3", "Server"),
    h("dl.facts", rows.flatMap(([k, v]) => [h("dt", k), h("dd", v ?? "")])),
  );
}

function storesCard(caps, info) {
  const stores = caps.stores || [];
  return h(
    "section.card.stores-card",
    h("h3", "Stores"),
    stores.length
      ? h(
          "table.plain",
          h("thead", h("tr", h("th", "store"), h("th", "engine"), h("th", "role"), h("th", "location"))),
          h("tbody", stores.map((s) => h("tr", { "data-store": s.alias }, h("td", s.alias), h("td", h("span.pill", s.engine)), h("td", s.role), h("td.mono.small.selectable", s.location || "")))),
        )
      : h("p", info["Storage backend"] || ""),
  );
}

function sparkline(values, max) {
  const w = 120;
  const hgt = 28;
  if (values.length < 2) return h("svg.spark", { width: w, height: hgt });
  const top = Math.max(max, ...values, 1);
  const pts = values.map((v, i) => `${(i * w) / (HISTORY - 1)},${hgt - 2 - (v / top) * (hgt - 4)}`).join(" ");
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("width", w);
  svg.setAttribute("height", hgt);
  svg.innerHTML = `<polyline points="${pts}" fill="none" stroke="currentColor" stroke-width="1.5"/>`;
  return svg;
}

function loadCard() {
  const history = Object.fromEntries(LOAD_KEYS.map(([k]) => [k, []]));
  const body = h("div.load-grid");
  const card = h("section.card.load-card", h("h3", "Load ", h("span.muted.small", "(last second, every 2 s)")), body);
  const update = async () => {
    const load = await getJSON("/api/load");
    body.replaceChildren(
      ...LOAD_KEYS.map(([k, label]) => {
        const hist = history[k];
        hist.push(+load[k] || 0);
        if (hist.length > HISTORY) hist.shift();
        return h("div.load-item", { "data-key": k }, h("div.big", fmtNumber(load[k] ?? 0)), h("div.muted.small", label), sparkline(hist, k === "handlers active" ? 100 : 1));
      }),
    );
  };
  return [card, update];
}

function reposCard(repos) {
  const list = Object.entries(repos).sort((a, b) => String(b[1].Updated).localeCompare(String(a[1].Updated)));
  const filter = h("input.filter", { type: "search", placeholder: `filter ${list.length} repos`, "aria-label": "filter repos" });
  const rows = list.map(([root, r]) => {
    const nodes = Object.values(r.DAG.Nodes);
    const branches = new Set(nodes.map((n) => n.Branch));
    const open = nodes.filter((n) => !n.Locked).length;
    return h(
      "tr.repo-row",
      { "data-root": root, onclick: (ev) => { if (!ev.target.closest("a")) location.hash = `#/repo/${root}`; } },
      h("td", h("a.repo-link", { href: `#/repo/${root}` }, r.Alias || "(no alias)"), h("div.muted.small", r.Description || "")),
      h("td.mono", short(root)),
      h("td.num", fmtNumber(nodes.length)),
      h("td", [...branches].slice(0, 4).map((b) => h("span.chip", branchLabel(b))), branches.size > 4 ? h("span.muted.small", ` +${branches.size - 4}`) : ""),
      h("td.num", String(open)),
      h("td.num", fmtNumber(Object.keys(r.DataInstances || {}).length)),
      h("td.small", fmtTime(r.Updated)),
    );
  });
  filter.addEventListener("input", () => {
    const q = filter.value.trim().toLowerCase();
    for (const tr of rows) tr.hidden = Boolean(q) && !tr.textContent.toLowerCase().includes(q);
  });
  return h(
    "section.card.repos-card",
    h("div.section-head", h("h3", "Repos"), h("span.muted", `${list.length}`), h("div.spacer"), list.length > 8 ? filter : ""),
    list.length
      ? h(
          "table.plain.repos",
          h("thead", h("tr", ["repo", "root", "versions", "branches", "open", "instances", "updated"].map((t) => h("th", t)))),
          h("tbody", rows),
        )
      : h("p.muted", "No repos yet. Create one with ", h("code", "dvid repos new <alias> <description>"), " or POST /api/repos."),
  );
}

export async function renderOverview(main) {
  const [info] = await Promise.all([getJSON("/api/server/info"), loadRepos()]);
  state.info = info;
  const [load, updateLoad] = loadCard();
  const jobs = h("section.card.jobs-card", h("h3", h("a", { href: "#/jobs" }, "Recent jobs")), h("div.jobs-summary"));
  main.replaceChildren(
    h(
      "div.overview",
      h("div.cards", serverCard(info, state.caps), storesCard(state.caps, info), load, jobs),
      reposCard(state.repos),
    ),
  );
  let alive = true;
  const stopLoad = poll(updateLoad, 2000, () => alive);
  const stopJobs = poll(() => jobsSummary(jobs.querySelector(".jobs-summary")), 3000, () => alive);
  return () => {
    alive = false;
    stopLoad();
    stopJobs();
  };
}
