// API help: the core endpoints (core-api.json, shipped with the console) and each datatype's own
// help text (GET /api/help/<type>), searchable.

import { esc, getJSON, getText, h, state } from "./api.js";

let core = null;

function mark(text, q) {
  const safe = esc(text);
  if (!q) return safe;
  const i = text.toLowerCase().indexOf(q);
  if (i < 0) return safe;
  return esc(text.slice(0, i)) + "<mark>" + esc(text.slice(i, i + q.length)) + "</mark>" + esc(text.slice(i + q.length));
}

function coreTable(q) {
  const parts = [`<p class="muted">${esc(core.about)}</p>`];
  for (const g of core.groups) {
    const rows = g.routes.filter(([m, p, d]) => !q || `${m} ${p} ${d}`.toLowerCase().includes(q));
    if (!rows.length) continue;
    parts.push(`<h3>${esc(g.title)}</h3><table class="plain api"><tbody>`);
    for (const [m, p, d] of rows) {
      parts.push(`<tr class="endpoint" data-method="${esc(m)}" data-path="${esc(p)}"><td class="method">${m.split(" ").map((x) => `<span class="verb ${x.toLowerCase()}">${x}</span>`).join(" ")}</td><td class="mono">${mark(p, q)}</td><td>${mark(d, q)}</td></tr>`);
    }
    parts.push(`</tbody></table>`);
  }
  return parts.join("");
}

export async function renderHelp(main, topic) {
  core = core || (await getJSON("/console/core-api.json"));
  const types = state.caps?.types || [];
  const content = h("div.help-content");
  const search = h("input.filter", { type: "search", placeholder: "search endpoints", "aria-label": "search endpoints" });
  const nav = h(
    "nav.help-nav",
    h("a", { href: "#/help", class: !topic ? "active" : null }, "Core API"),
    h("div.muted.small.navhead", "Datatypes"),
    types.map((t) => h("a", { href: `#/help/${t}`, class: topic === t ? "active" : null, "data-type": t }, t)),
  );
  main.replaceChildren(h("div.help-view", nav, h("section.card", h("div.section-head", h("h2", topic || "Core API"), h("div.spacer"), search), content)));
  if (!topic) {
    const draw = () => {
      content.innerHTML = coreTable(search.value.trim().toLowerCase());
    };
    search.addEventListener("input", draw);
    draw();
    return null;
  }
  const text = await getText(`/api/help/${encodeURIComponent(topic)}`);
  const pre = h("pre.help-text");
  const draw = () => {
    const q = search.value.trim().toLowerCase();
    const lines = text.split("\n");
    pre.innerHTML = q ? lines.map((l) => (l.toLowerCase().includes(q) ? `<mark>${esc(l)}</mark>` : esc(l))).join("\n") : esc(text);
    pre.querySelector("mark")?.scrollIntoView({ block: "center" });
  };
  search.placeholder = `search ${topic} help`;
  search.addEventListener("input", draw);
  content.replaceChildren(pre);
  draw();
  return null;
}
