// The version DAG as one SVG picture: one row per version (newest on top, like `git log --graph`),
// one lane per branch (lanes are reused once a branch ends, so width stays small), edges from
// each version to its parents, and the leaf of every branch marked with the branch name.
//
// Layout is linear in the number of versions and edges, so hundreds (or thousands) of versions
// draw in a few milliseconds.

import { esc, short } from "./api.js";

export const ROW = 26; // px per version
const LANE = 16; // px per branch lane
const PAD = 14;
const PALETTE = ["#2563eb", "#d97706", "#059669", "#db2777", "#7c3aed", "#0891b2", "#65a30d", "#dc2626", "#4b5563", "#ca8a04"];

export function branchLabel(b) {
  return b === "" ? "master" : b;
}

/** Rows, lanes and edges for the DAG ``nodes`` (``DAG.Nodes`` of a repo's JSON). */
export function layoutDag(nodesObj) {
  const nodes = Object.values(nodesObj).sort((a, b) => b.VersionID - a.VersionID);
  const byVid = new Map(nodes.map((n) => [n.VersionID, n]));
  const rowOf = new Map(nodes.map((n, i) => [n.VersionID, i]));
  // A node starts its branch if none of its parents is on the same branch; the edge to a parent on
  // another branch runs in the child's lane for a branch start, in the parent's lane for a merge.
  const spans = new Map(); // branch -> [top row, bottom row]
  const extend = (b, r) => {
    const s = spans.get(b);
    if (!s) spans.set(b, [r, r]);
    else {
      s[0] = Math.min(s[0], r);
      s[1] = Math.max(s[1], r);
    }
  };
  const edges = [];
  for (const n of nodes) {
    const r = rowOf.get(n.VersionID);
    extend(n.Branch, r);
    const parents = n.Parents.map((p) => byVid.get(p)).filter(Boolean);
    const starts = !parents.some((p) => p.Branch === n.Branch);
    for (const p of parents) {
      const rp = rowOf.get(p.VersionID);
      const kind = p.Branch === n.Branch ? "same" : starts ? "fork" : "merge";
      if (kind === "fork") extend(n.Branch, rp);
      if (kind === "merge") extend(p.Branch, r);
      edges.push({ child: n, parent: p, kind });
    }
  }
  // master keeps lane 0; other branches, oldest first, take the lowest lane free over their span
  const laneOf = new Map([["", 0]]);
  const laneTop = [spans.has("") ? spans.get("")[0] : Infinity];
  const others = [...spans.entries()].filter(([b]) => b !== "").sort((a, b) => b[1][1] - a[1][1]);
  for (const [b, [top, bottom]] of others) {
    let lane = 1;
    while (lane < laneTop.length && !(bottom < laneTop[lane] - 1)) lane++;
    laneTop[lane] = top;
    laneOf.set(b, lane);
  }
  const colorOf = new Map([["", PALETTE[0]]]);
  others.forEach(([b], k) => colorOf.set(b, PALETTE[1 + (k % (PALETTE.length - 1))]));
  // a leaf of a branch: no child on the same branch
  const leaves = new Set();
  for (const n of nodes) {
    const kids = n.Children.map((c) => byVid.get(c)).filter(Boolean);
    if (!kids.some((k) => k.Branch === n.Branch)) leaves.add(n.VersionID);
  }
  return { nodes, rowOf, laneOf, colorOf, edges, leaves, lanes: laneTop.length };
}

function x(lane) {
  return PAD + lane * LANE;
}
function y(row) {
  return ROW / 2 + row * ROW;
}

function edgePath(L, e) {
  const xc = x(L.laneOf.get(e.child.Branch));
  const yc = y(L.rowOf.get(e.child.VersionID));
  const xp = x(L.laneOf.get(e.parent.Branch));
  const yp = y(L.rowOf.get(e.parent.VersionID));
  if (xc === xp) return `M${xc},${yc}V${yp}`;
  const bend = ROW * 0.9;
  if (e.kind === "merge") return `M${xp},${yp}V${yc + bend}C${xp},${yc + bend / 2} ${xc},${yc + bend / 2} ${xc},${yc}`;
  return `M${xc},${yc}V${yp - bend}C${xc},${yp - bend / 2} ${xp},${yp - bend / 2} ${xp},${yp}`;
}

function truncate(s, n) {
  s = String(s || "").replace(/\s+/g, " ").trim();
  return s.length > n ? s.slice(0, n - 1) + "…" : s;
}

/** The SVG markup for layout ``L``; ``selected`` is the UUID of the highlighted version. */
export function dagSvg(L, selected, width) {
  const gx = x(L.lanes - 1) + PAD; // width of the graph part
  const height = Math.max(ROW, L.nodes.length * ROW);
  const parts = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="dag" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="version DAG, ${L.nodes.length} versions">`,
  );
  parts.push(`<g class="rows">`);
  L.nodes.forEach((n, i) => {
    const cls = "row" + (n.UUID === selected ? " selected" : "") + (i % 2 ? " odd" : "");
    const leaf = L.leaves.has(n.VersionID);
    const title = `${n.UUID}\nversion ${n.VersionID} · branch ${branchLabel(n.Branch)} · ${n.Locked ? "committed" : "open"}${leaf ? " · leaf" : ""}\n${n.Note || ""}`;
    parts.push(`<rect class="${cls}" data-uuid="${n.UUID}" x="0" y="${i * ROW}" width="${width}" height="${ROW}"><title>${esc(title)}</title></rect>`);
  });
  parts.push(`</g><g class="edges">`);
  for (const e of L.edges) {
    const color = L.colorOf.get(e.kind === "merge" ? e.parent.Branch : e.child.Branch);
    parts.push(`<path d="${edgePath(L, e)}" stroke="${color}"/>`);
  }
  parts.push(`</g><g class="nodes">`);
  const textX = gx + 6;
  for (const n of L.nodes) {
    const r = L.rowOf.get(n.VersionID);
    const cx = x(L.laneOf.get(n.Branch));
    const cy = y(r);
    const color = L.colorOf.get(n.Branch);
    const leaf = L.leaves.has(n.VersionID);
    const state = n.Locked ? "committed" : "open";
    parts.push(
      `<g class="node ${state}${leaf ? " leaf" : ""}" data-uuid="${n.UUID}" data-branch="${esc(n.Branch)}" data-locked="${n.Locked}" data-leaf="${leaf}" transform="translate(0,${cy})">`,
      n.Locked
        ? `<circle cx="${cx}" cy="0" r="5" fill="${color}" stroke="${color}"/>`
        : `<circle cx="${cx}" cy="0" r="5" fill="#fff" stroke="${color}" stroke-width="2.5"/>`,
      `<text class="uuid" x="${textX}" y="4">${short(n.UUID)}</text>`,
    );
    let tx = textX + 72;
    if (leaf) {
      const label = branchLabel(n.Branch);
      const w = 12 + label.length * 6.6;
      parts.push(
        `<rect class="ref" x="${tx}" y="-8" width="${w}" height="16" rx="8" fill="${color}"/>`,
        `<text class="ref" x="${tx + w / 2}" y="4" text-anchor="middle">${esc(label)}</text>`,
      );
      tx += w + 6;
    } else {
      parts.push(`<text class="branch" x="${tx}" y="4" fill="${color}">${esc(truncate(branchLabel(n.Branch), 14))}</text>`);
      tx += 14 + Math.min(14, branchLabel(n.Branch).length) * 6.6;
    }
    if (!n.Locked) {
      parts.push(`<text class="open" x="${tx}" y="4">open</text>`);
      tx += 40;
    }
    const room = Math.max(0, Math.floor((width - tx - 8) / 6.4));
    if (room > 3 && n.Note) parts.push(`<text class="note" x="${tx}" y="4">${esc(truncate(n.Note, room))}</text>`);
    parts.push(`</g>`);
  }
  parts.push(`</g></svg>`);
  return parts.join("");
}
