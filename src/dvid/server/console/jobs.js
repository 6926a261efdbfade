// Jobs (load, put, export, ROI …) with live progress and their errors, from /api/server/jobs.
// The jobs page polls every 0.4 s while one runs, every second otherwise.

import { esc, fmtDuration, fmtNumber, fmtTime, getJSON, h, loadRepos, poll, repoOfNode, short } from "./api.js";

const FAST = 400; // ms between polls of the jobs page while a job runs
const IDLE = 1000; // … and while none does, so a new job shows within a second
const SLOW = 3000; // the overview and the nav badge
const MAX_ROWS = 100; // newest jobs drawn on the jobs page

/** Progress as a fraction (files if the job counts files, else blocks), or null if unknown. */
export function progressOf(job) {
  if (job.state === "done") return 1;
  if (job.files_total > 0) return Math.min(1, job.files_done / job.files_total);
  if (job.blocks_total > 0) return Math.min(1, job.blocks_done / job.blocks_total);
  return null;
}

function progressBar(job) {
  const f = progressOf(job);
  const pct = f === null ? null : Math.round(f * 1000) / 10;
  const label =
    job.files_total > 0
      ? `${fmtNumber(job.files_done)} / ${fmtNumber(job.files_total)} files`
      : job.blocks_total > 0
        ? `${fmtNumber(job.blocks_done)} / ${fmtNumber(job.blocks_total)} blocks`
        : `${fmtNumber(job.blocks_done)} blocks`;
  return h(
    "div.progress." + job.state,
    { role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": pct ?? "", "data-done": job.files_done, "data-blocks": job.blocks_done },
    h("div.bar", { style: `width:${pct === null ? (job.state === "running" ? 100 : 0) : pct}%` }),
    h("span.progress-label", pct === null ? label : `${pct}% · ${label}`),
  );
}

function duration(job) {
  const start = Date.parse(job.started);
  const end = job.ended ? Date.parse(job.ended) : Date.now();
  return Number.isNaN(start) ? "" : fmtDuration((end - start) / 1000);
}

function where(job) {
  if (!job.node) return h("span.muted", "server");
  const [root, , uuid] = repoOfNode(job.node);
  const label = `${job.instance ? job.instance + " @ " : ""}${short(job.node)}`;
  return root ? h("a", { href: `#/repo/${root}/${uuid}` }, label) : h("span", label);
}

function jobRow(job) {
  const errors = job.errors || [];
  return h(
    "tr.job",
    { "data-id": job.id, "data-state": job.state },
    h("td", h("span.pill.state." + job.state, job.state)),
    h("td", h("div.mono.small", job.command), job.message ? h("div.muted.small.message", job.message) : ""),
    h("td", where(job)),
    h("td.progress-cell", progressBar(job)),
    h(
      "td.errors-cell",
      errors.length
        ? h(
            "details.errors",
            h("summary.err", `${errors.length} error${errors.length === 1 ? "" : "s"}`),
            h("ul", errors.slice(0, 200).map((e) => h("li", e.file ? h("span.mono", e.file + ": ") : "", e.error))),
          )
        : h("span.muted", "none"),
    ),
    h("td.small", fmtTime(job.started), h("div.muted", duration(job))),
  );
}

function jobsTable(jobs) {
  return h(
    "table.plain.jobs",
    h("thead", h("tr", ["state", "command", "where", "progress", "errors", "started"].map((t) => h("th", t)))),
    h("tbody", jobs.map(jobRow)),
  );
}

/** The few most recent jobs, for the overview. */
export async function jobsSummary(slot) {
  const jobs = (await getJSON("/api/server/jobs")).slice(-5).reverse();
  slot.replaceChildren(jobs.length ? jobsTable(jobs) : h("p.muted", "No jobs yet."));
}

export function renderJobs(main) {
  const body = h("div.jobs-body");
  const stamp = h("span.muted.small");
  main.replaceChildren(
    h("section.card.jobs-page", h("div.section-head", h("h2", "Jobs"), stamp), h("p.muted.small", "Long commands (load, put, export, import, roi) report here while they run; a job found running after a restart is shown as interrupted."), body),
  );
  let alive = true;
  let running = false;
  const open = new Set(); // error lists the user expanded stay expanded across refreshes
  const looked = new Set(); // versions the repos were reloaded for once
  const update = async () => {
    const jobs = (await getJSON("/api/server/jobs")).reverse();
    const unknown = jobs.filter((j) => j.node && !repoOfNode(j.node)[0] && !looked.has(j.node));
    if (unknown.length) {
      unknown.forEach((j) => looked.add(j.node));
      await loadRepos(); // to link each job to its version
    }
    for (const d of body.querySelectorAll("tr.job details[open]")) open.add(d.closest("tr").dataset.id);
    running = jobs.some((j) => j.state === "running");
    const shown = jobs.slice(0, MAX_ROWS);
    body.replaceChildren(
      jobs.length ? jobsTable(shown) : h("p.muted", "No jobs yet. ", h("code", "dvid node <uuid> <name> load <x,y,z> <files…>"), " starts one."),
      jobs.length > MAX_ROWS ? h("p.muted.small", `${jobs.length - MAX_ROWS} older jobs not shown (GET /api/server/jobs lists all).`) : "",
    );
    for (const id of open) body.querySelector(`tr.job[data-id="${esc(id)}"] details`)?.setAttribute("open", "");
    stamp.textContent = `updated ${new Date().toLocaleTimeString("sv-SE")}${running ? " · live" : ""}`;
  };
  const stop = poll(update, () => (running ? FAST : IDLE), () => alive);
  return () => {
    alive = false;
    stop();
  };
}

/** Keep the count of running jobs in the nav badge up to date. */
export function watchBadge(badge) {
  poll(async () => {
    const n = (await getJSON("/api/server/jobs")).filter((j) => j.state === "running").length;
    badge.hidden = n === 0;
    badge.textContent = String(n);
  }, SLOW);
}
