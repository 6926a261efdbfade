// One repo: its version DAG on the left, the selected version on the right (facts, log, write
// actions where the server allows them, and the data instances at that version).

import { fmtTime, h, loadRepos, postJSON, short, state, toast } from "./api.js";
import { ROW, branchLabel, dagSvg, layoutDag } from "./dag.js";
import { instancesSection, viewerLevels, viewerUrl } from "./instances.js";
import { openViewer } from "./viewer.js";

let current = null; // {root, repo, layout, scroller, selected} of the repo on screen

/** The version shown when the URL names none: the leaf of master, else the newest version. */
function defaultVersion(repo) {
  const nodes = Object.values(repo.DAG.Nodes).sort((a, b) => b.VersionID - a.VersionID);
  const byVid = new Map(nodes.map((n) => [n.VersionID, n]));
  const masterLeaf = nodes.find((n) => n.Branch === "" && !n.Children.some((c) => byVid.get(c)?.Branch === ""));
  return (masterLeaf || nodes[0]).UUID;
}

function drawDag(scroller, L, selected) {
  const width = Math.max(320, scroller.clientWidth);
  if (scroller.dataset.width === String(width) && scroller.firstChild) return;
  scroller.dataset.width = String(width);
  const t0 = performance.now();
  scroller.innerHTML = dagSvg(L, selected, width);
  scroller.dataset.drawMs = (performance.now() - t0).toFixed(1);
}

function select(uuid, scroll) {
  const { scroller, layout } = current;
  for (const r of scroller.querySelectorAll("rect.row.selected")) r.classList.remove("selected");
  const rect = scroller.querySelector(`rect.row[data-uuid="${uuid}"]`);
  if (rect) rect.classList.add("selected");
  if (scroll && rect) {
    const top = layout.rowOf.get(state.repos[current.root].DAG.Nodes[uuid].VersionID) * ROW;
    if (top < scroller.scrollTop || top > scroller.scrollTop + scroller.clientHeight - ROW)
      scroller.scrollTop = Math.max(0, top - scroller.clientHeight / 3);
  }
}

function dagPanel(root, repo, selected) {
  const L = layoutDag(repo.DAG.Nodes);
  const n = L.nodes.length;
  const branches = new Set(L.nodes.map((v) => v.Branch)).size;
  const scroller = h("div.dag-scroll", { tabindex: "0", "aria-label": "version DAG" });
  const filter = h("input.filter", { type: "search", placeholder: "find version: uuid, branch or note", "aria-label": "find version" });
  const found = h("span.muted.small");
  filter.addEventListener("input", () => {
    const q = filter.value.trim().toLowerCase();
    let hits = 0;
    for (const g of scroller.querySelectorAll("g.node")) {
      const v = repo.DAG.Nodes[g.dataset.uuid];
      const hit = !q || v.UUID.startsWith(q) || branchLabel(v.Branch).toLowerCase().includes(q) || (v.Note || "").toLowerCase().includes(q);
      g.classList.toggle("dim", !hit);
      hits += hit;
    }
    found.textContent = q ? `${hits} match${hits === 1 ? "" : "es"}` : "";
  });
  filter.addEventListener("keydown", (ev) => {
    if (ev.key !== "Enter") return;
    const g = scroller.querySelector("g.node:not(.dim)");
    if (g) location.hash = `#/repo/${root}/${g.dataset.uuid}`;
  });
  scroller.addEventListener("click", (ev) => {
    const t = ev.target.closest("[data-uuid]");
    if (t) location.hash = `#/repo/${root}/${t.dataset.uuid}`;
  });
  scroller.addEventListener("keydown", (ev) => {
    if (ev.key !== "ArrowDown" && ev.key !== "ArrowUp") return;
    ev.preventDefault();
    const i = L.rowOf.get(repo.DAG.Nodes[current.selected].VersionID) + (ev.key === "ArrowDown" ? 1 : -1);
    if (i >= 0 && i < L.nodes.length) location.hash = `#/repo/${root}/${L.nodes[i].UUID}`;
  });
  const legend = h(
    "div.legend",
    h("span", h("i.dot.committed"), "committed"),
    h("span", h("i.dot.open"), "open"),
    h("span", h("i.refpill", "branch"), "leaf of a branch"),
  );
  // the leaf of every branch, newest first: one click away however long the DAG is
  const heads = L.nodes.filter((v) => L.leaves.has(v.VersionID));
  const headChips = h(
    "div.heads",
    { "aria-label": "branch leaves" },
    heads.map((v) =>
      h("a.head", { href: `#/repo/${root}/${v.UUID}`, "data-uuid": v.UUID, title: `leaf of ${branchLabel(v.Branch)}: ${v.UUID}`, style: `--c:${L.colorOf.get(v.Branch)}` },
        h("span.head-name", branchLabel(v.Branch)), h("span.mono", short(v.UUID)), v.Locked ? "" : h("span.open-tag", "open")),
    ),
  );
  const panel = h(
    "section.dag-panel",
    h("div.section-head", h("h3", "Versions"), h("span.muted", `${n} version${n === 1 ? "" : "s"}, ${branches} branch${branches === 1 ? "" : "es"}`)),
    headChips,
    h("div.dag-tools", filter, found),
    scroller,
    legend,
  );
  current = { root, repo, layout: L, scroller, selected };
  requestAnimationFrame(() => {
    drawDag(scroller, L, selected);
    select(selected, true);
  });
  let resizeTimer = null;
  const ro = new ResizeObserver(() => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      if (current?.scroller !== scroller) return; // the view was left meanwhile
      const top = scroller.scrollTop;
      drawDag(scroller, L, current.selected);
      scroller.scrollTop = top;
      filter.dispatchEvent(new Event("input"));
    }, 80);
  });
  ro.observe(scroller);
  panel._disconnect = () => {
    ro.disconnect();
    clearTimeout(resizeTimer);
  };
  return panel;
}

function nodeLink(root, repo, vid) {
  const n = Object.values(repo.DAG.Nodes).find((v) => v.VersionID === vid);
  return n ? h("a.mono", { href: `#/repo/${root}/${n.UUID}`, title: n.UUID }, short(n.UUID)) : h("span.muted", `#${vid}`);
}

function actionForm(title, fields, submitLabel, onSubmit) {
  const inputs = fields.map((f) =>
    f.multiline
      ? h("textarea", { name: f.name, placeholder: f.placeholder, rows: 2 })
      : h("input", { name: f.name, placeholder: f.placeholder, required: f.required || null }),
  );
  const form = h(
    "form.action-form",
    { "data-form": submitLabel.toLowerCase().replace(/\s+/g, "-") },
    h("div.form-title", title),
    ...fields.map((f, i) => h("label", h("span", f.label), inputs[i])),
    h("div.form-buttons", h("button.primary", { type: "submit" }, submitLabel), h("button", { type: "button", onclick: () => form.remove() }, "Cancel")),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const values = Object.fromEntries(inputs.map((el) => [el.name, el.value.trim()]));
    form.querySelector("button.primary").disabled = true;
    try {
      await onSubmit(values);
    } catch (e) {
      toast(String(e.message || e), "error");
      form.querySelector("button.primary").disabled = false;
    }
  });
  return form;
}

function writeActions(root, node, slot) {
  const caps = state.caps || {};
  if (!caps.writes) {
    const why = caps.readonly
      ? "This server is read-only" + (caps.admin_token_configured ? ": enter the admin token to change versions." : ".")
      : "Enter the admin token (top right) to commit or create versions.";
    return h("p.muted.small.no-writes", why);
  }
  const reload = async (uuid, message) => {
    await loadRepos();
    toast(message);
    if (location.hash === `#/repo/${root}/${uuid}`) window.dispatchEvent(new HashChangeEvent("hashchange"));
    else location.hash = `#/repo/${root}/${uuid}`; // the repo was reloaded, so the view is drawn anew
  };
  const show = (form) => {
    slot.replaceChildren(form);
    form.querySelector("input, textarea")?.focus();
  };
  const buttons = [];
  if (!node.Locked) {
    buttons.push(
      h("button", { "data-action": "commit", onclick: () => show(actionForm(`Commit ${short(node.UUID)}: it becomes read-only`, [
        { name: "note", label: "note", placeholder: "what this version holds", multiline: true },
        { name: "log", label: "log line", placeholder: "optional" },
      ], "Commit", async (v) => {
        await postJSON(`/api/node/${node.UUID}/commit`, { note: v.note, log: v.log ? [v.log] : [] });
        await reload(node.UUID, `committed ${short(node.UUID)}`);
      })) }, "Commit…"),
    );
  } else {
    buttons.push(
      h("button", { "data-action": "newversion", onclick: () => show(actionForm(`New version on ${branchLabel(node.Branch)} after ${short(node.UUID)}`, [
        { name: "note", label: "note", placeholder: "optional", multiline: true },
      ], "Create version", async (v) => {
        const r = await postJSON(`/api/node/${node.UUID}/newversion`, { note: v.note });
        await reload(r.child, `new version ${short(r.child)}`);
      })) }, "New version…"),
      h("button", { "data-action": "branch", onclick: () => show(actionForm(`New branch from ${short(node.UUID)}`, [
        { name: "branch", label: "branch", placeholder: "name, unused in this repo", required: true },
        { name: "note", label: "note", placeholder: "optional", multiline: true },
      ], "Create branch", async (v) => {
        const r = await postJSON(`/api/node/${node.UUID}/branch`, { branch: v.branch, note: v.note });
        await reload(r.child, `branch ${v.branch}: ${short(r.child)}`);
      })) }, "Branch…"),
    );
  }
  return h("div.write-actions", ...buttons);
}

function nodePanel(root, repo, uuid) {
  const node = repo.DAG.Nodes[uuid];
  const slot = h("div.form-slot");
  const log = node.Log || [];
  const facts = h(
    "dl.facts",
    h("dt", "UUID"), h("dd.mono.selectable", node.UUID),
    h("dt", "branch"), h("dd", branchLabel(node.Branch)),
    h("dt", "state"), h("dd", node.Locked ? h("span.pill.committed", "committed (read-only)") : h("span.pill.open", "open (writable)")),
    h("dt", "version"), h("dd", String(node.VersionID)),
    h("dt", "parents"), h("dd", node.Parents.length ? node.Parents.map((p) => nodeLink(root, repo, p)) : h("span.muted", "root")),
    h("dt", "children"), h("dd", node.Children.length ? node.Children.map((c) => nodeLink(root, repo, c)) : h("span.muted", "none (a leaf)")),
    h("dt", "created"), h("dd", fmtTime(node.Created)),
    h("dt", "updated"), h("dd", fmtTime(node.Updated)),
  );
  const onOpen = (group) => openViewer({
    url: viewerUrl(node.UUID, group.name),
    title: `${group.name} @ ${short(node.UUID)} (${branchLabel(node.Branch)}) · ${viewerLevels(group)} level${viewerLevels(group) === 1 ? "" : "s"}`,
  });
  const instances = instancesSection(repo, node.UUID, onOpen);
  const panel = h(
    "section.node-panel",
    { "data-uuid": node.UUID },
    h("div.section-head", h("h3", "Version ", h("span.mono", short(node.UUID))), node.Locked ? "" : h("span.pill.open", "open")),
    node.Note ? h("p.note", node.Note) : h("p.muted.note", "no note"),
    facts,
    log.length ? h("details.log", h("summary", `log (${log.length})`), h("pre", log.join("\n"))) : "",
    writeActions(root, node, slot),
    slot,
    instances,
  );
  panel._disconnect = () => instances._disconnect();
  return panel;
}

/** Move the selection to ``uuid`` if repo ``root`` (as last loaded) is on screen; true if done. */
export function updateRepo(main, root, uuid) {
  const repo = state.repos?.[root];
  if (!current || current.root !== root || current.repo !== repo || !main.querySelector(".repo-view")) return false;
  if (!uuid || !repo.DAG.Nodes[uuid]) uuid = defaultVersion(repo);
  current.selected = uuid;
  select(uuid, true);
  const old = main.querySelector(".node-panel");
  old._disconnect?.();
  old.replaceWith(nodePanel(root, repo, uuid));
  return true;
}

/** Render repo ``root`` with version ``uuid`` selected into ``main``; returns the clean-up. */
export function renderRepo(main, root, uuid) {
  const repo = state.repos[root];
  if (!repo) {
    main.replaceChildren(h("div.card", h("h2", "No such repo"), h("p", `No repo has root ${root}.`), h("a", { href: "#/" }, "back")));
    return null;
  }
  if (!uuid || !repo.DAG.Nodes[uuid]) uuid = defaultVersion(repo);
  const nInst = Object.keys(repo.DataInstances || {}).length;
  const header = h(
    "div.repo-head",
    h("div.crumbs", h("a", { href: "#/" }, "repos"), " / ", h("span.mono", short(repo.Root))),
    h("h2", repo.Alias || h("span.muted", "(no alias)")),
    repo.Description ? h("p.muted", repo.Description) : "",
    h("div.muted.small", "root ", h("span.mono.selectable", repo.Root), ` · ${Object.keys(repo.DAG.Nodes).length} versions · ${nInst} instances · updated ${fmtTime(repo.Updated)}`),
  );
  const dag = dagPanel(root, repo, uuid);
  const node = nodePanel(root, repo, uuid);
  main.replaceChildren(h("div.repo-view", header, h("div.repo-grid", dag, node)));
  return () => {
    dag._disconnect();
    main.querySelector(".node-panel")?._disconnect?.();
    current = null;
  };
}
