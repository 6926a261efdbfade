// The data instances of a repo as seen at one version: one row per volume with its pyramid levels
// (`<name>_N` instances next to `<name>`, the way neuroglancer's DVID source finds them), block and
// voxel size, extents at that version, compression, a thumbnail (the central xy slice) and
// "Open in neuroglancer". Per-version details are fetched only for rows scrolled into view.

import { ApiError, fmtNumber, getJSON, h } from "./api.js";

const THUMB = 96; // px, the thumbnail box
const SLICE_MAX = 1024; // a whole slice up to this size, else a centred crop
const CROP = 512;
const IMAGE_TYPES = new Set(["uint8blk", "rgba8blk", "uint16blk", "uint32blk", "uint64blk", "float32blk"]);
const THUMB_FORMAT = { uint8blk: "jpg", rgba8blk: "jpg", uint16blk: "png" };

/** Group `<name>_N` instances of the same type under `<name>`; returns [{name, inst, levels}]. */
export function groupLevels(instances) {
  const names = Object.keys(instances).sort((a, b) => a.localeCompare(b));
  const groups = new Map();
  const levelOf = new Map();
  for (const name of names) {
    const m = name.match(/^(.+)_(\d+)$/);
    const base = m && instances[m[1]];
    if (base && !m[1].match(/_\d+$/) && base.Base.TypeName === instances[name].Base.TypeName && +m[2] > 0) {
      levelOf.set(name, [m[1], +m[2]]);
    }
  }
  for (const name of names) {
    if (levelOf.has(name)) continue;
    groups.set(name, { name, inst: instances[name], levels: [{ level: 0, name, inst: instances[name] }] });
  }
  for (const [name, [base, level]] of levelOf) groups.get(base).levels.push({ level, name, inst: instances[name] });
  for (const g of groups.values()) g.levels.sort((a, b) => a.level - b.level);
  return [...groups.values()];
}

/** Levels neuroglancer will use: `_1`, `_2`, … up to the first gap. */
export function viewerLevels(group) {
  let n = 0;
  while (group.levels.some((l) => l.level === n + 1)) n++;
  return n + 1;
}

function triple(v, unit = "") {
  if (!Array.isArray(v)) return "—";
  const nums = v.map((a) => +(+a).toFixed(3));
  const same = nums.every((a) => a === nums[0]);
  return (same ? `${nums[0]}³` : nums.join(" × ")) + (unit ? ` ${unit}` : "");
}

function unitOf(ext) {
  const u = (ext.VoxelUnits || [])[0] || "";
  return { nanometers: "nm", nanometer: "nm", micrometers: "µm", microns: "µm" }[u] || u;
}

export function compressionLabel(base) {
  const c = String(base.Compression || "");
  const m = c.match(/^(\S+) compression, level (-?\d+)/i);
  if (!m) return c || "—";
  const name = m[1].toLowerCase() === "no" ? "none" : m[1];
  return +m[2] >= 0 && name !== "none" ? `${name} ${m[2]}` : name;
}

function extentsText(ext) {
  const lo = ext.MinPoint;
  const hi = ext.MaxPoint;
  if (!lo || !hi) return ["empty", ""];
  const size = lo.map((a, i) => hi[i] - a + 1);
  return [size.map(fmtNumber).join(" × "), `(${lo.join(", ")}) – (${hi.join(", ")})`];
}

/** Why neuroglancer's DVID source cannot show this instance, or "" if it can. */
export function viewerProblem(inst, ext) {
  if (inst.Base.TypeName !== "uint8blk") return "neuroglancer's DVID source reads uint8blk volumes only";
  if (!ext.MinPoint || !ext.MaxPoint) return "nothing stored at this version";
  const jpeg = String(inst.Base.Compression || "").toLowerCase().includes("jpeg");
  const bs = ext.BlockSize || [];
  const vs = ext.VoxelSize || [];
  if (jpeg && !(bs[0] === 64 && bs[1] === 64 && bs[2] === 64))
    return "neuroglancer reads JPEG-compressed instances only with 64×64×64 blocks";
  if (jpeg && !(vs[0] === vs[1] && vs[1] === vs[2]))
    return "neuroglancer's JPEG path needs isotropic voxels (its chunks would not be 64³)";
  return "";
}

export function viewerUrl(uuid, name) {
  return `/neuroglancer/v/${uuid}@${encodeURIComponent(name)}/`;
}

/** The slice request for a thumbnail of ``name`` whose extents at the version are ``ext``. */
export function thumbUrl(uuid, name, typename, ext) {
  const fmt = THUMB_FORMAT[typename];
  if (!fmt || !ext.MinPoint || !ext.MaxPoint) return null;
  const lo = ext.MinPoint;
  const size = lo.map((a, i) => ext.MaxPoint[i] - a + 1);
  let [w, hgt] = size;
  let [x0, y0] = lo;
  if (w > SLICE_MAX || hgt > SLICE_MAX) {
    const cw = Math.min(w, CROP);
    const ch = Math.min(hgt, CROP);
    x0 += Math.floor((w - cw) / 2);
    y0 += Math.floor((hgt - ch) / 2);
    [w, hgt] = [cw, ch];
  }
  const z = lo[2] + Math.floor(size[2] / 2);
  return `/api/node/${uuid}/${encodeURIComponent(name)}/raw/xy/${w}_${hgt}/${x0}_${y0}_${z}/${fmt}`;
}

/** The level whose xy size is the smallest still at least the thumbnail box (xy halves per level). */
function thumbLevel(group, ext0) {
  if (!ext0.MinPoint || !ext0.MaxPoint) return group.levels[0];
  const side = Math.max(ext0.MaxPoint[0] - ext0.MinPoint[0] + 1, ext0.MaxPoint[1] - ext0.MinPoint[1] + 1);
  let best = group.levels[0];
  for (const l of group.levels) if (side / 2 ** l.level >= THUMB) best = l;
  return best;
}

async function versionInfo(uuid, name) {
  try {
    return await getJSON(`/api/node/${uuid}/${encodeURIComponent(name)}/info`);
  } catch (e) {
    if (e instanceof ApiError) return { error: e.message };
    throw e;
  }
}

function levelChips(group) {
  if (group.levels.length < 2) return h("span.muted", "1");
  const used = viewerLevels(group);
  return h(
    "span.levels",
    group.levels.map((l) =>
      h(
        "span.chip" + (l.level < used ? "" : ".gap"),
        { title: `${l.name}: voxel ${triple(l.inst.Extended?.VoxelSize)}${l.level < used ? "" : " (after a gap: neuroglancer stops before it)"}` },
        String(l.level),
      ),
    ),
  );
}

function row(uuid, group, onOpen) {
  const inst = group.inst;
  const ext = inst.Extended || {};
  const image = IMAGE_TYPES.has(inst.Base.TypeName) && ext.VoxelSize;
  const open = h("button.primary.small", { "data-action": "open-neuroglancer", disabled: true, title: "checking…" }, "Open in neuroglancer");
  const tr = h(
    "tr.instance",
    { "data-name": group.name, "data-type": inst.Base.TypeName, "data-levels": group.levels.length },
    h("td.thumb", image ? h("div.thumbbox", h("span.muted", "…")) : h("div.thumbbox.none", "—")),
    h(
      "td",
      h("div.iname", group.name),
      h("div.muted.small", inst.Base.TypeName + (image ? ` · ${compressionLabel(inst.Base)}` : "") + (inst.Base.Versioned === false ? " · unversioned" : "")),
    ),
    h("td", image ? levelChips(group) : ""),
    h("td.num.geometry", image ? [h("div", { title: "block size" }, "block ", triple(ext.BlockSize)), h("div.muted", { title: "voxel size" }, "voxel ", triple(ext.VoxelSize, unitOf(ext)))] : "—"),
    h("td.num.extents", image ? h("span.muted", "…") : "—"),
    h("td.actions", image ? open : "", h("div", h("a.small", { href: `/api/node/${uuid}/${encodeURIComponent(group.name)}/info`, target: "_blank" }, "info JSON"))),
  );
  if (!image) {
    tr.dataset.loaded = "true";
    return { tr, load: null };
  }
  open.addEventListener("click", () => onOpen(group));
  const load = async () => {
    const info = await versionInfo(uuid, group.name);
    const thumbCell = tr.querySelector(".thumbbox");
    tr.dataset.loaded = "true";
    if (info.error) {
      open.title = info.error;
      thumbCell.replaceChildren(h("span.muted", "error"));
      tr.querySelector(".extents").replaceChildren(h("span.err", info.error));
      return;
    }
    const e = info.Extended || {};
    const [vsize, vbox] = extentsText(e);
    tr.querySelector(".extents").replaceChildren(h("div", vsize), h("div.muted.small", vbox));
    tr.querySelector(".extents").title = vbox;
    const problem = viewerProblem(inst, e);
    open.disabled = Boolean(problem);
    open.title = problem || `neuroglancer on ${group.name} at ${uuid.slice(0, 8)}, ${viewerLevels(group)} level(s)`;
    const lvl = thumbLevel(group, e);
    const le = lvl.level === 0 ? e : (await versionInfo(uuid, lvl.name)).Extended || {};
    const url = thumbUrl(uuid, lvl.name, inst.Base.TypeName, le);
    if (!url) {
      thumbCell.classList.add("empty");
      thumbCell.replaceChildren(h("span.muted", e.MinPoint ? "no preview" : "empty"));
      return;
    }
    const img = h("img", { alt: `central xy slice of ${group.name}`, src: url, "data-level": lvl.level });
    img.addEventListener("error", () => thumbCell.replaceChildren(h("span.muted", "no preview")));
    thumbCell.replaceChildren(img);
  };
  return { tr, load };
}

/** The instances section for version ``uuid`` of ``repo``; ``onOpen(group)`` opens the viewer. */
export function instancesSection(repo, uuid, onOpen) {
  const groups = groupLevels(repo.DataInstances || {});
  const tbody = h("tbody");
  const observer = new IntersectionObserver(
    (entries) => {
      for (const en of entries) {
        if (!en.isIntersecting) continue;
        observer.unobserve(en.target);
        const load = en.target._load;
        if (load) load().catch((e) => en.target.querySelector(".extents")?.replaceChildren(h("span.err", String(e.message || e))));
      }
    },
    { rootMargin: "200px" },
  );
  const rows = groups.map((g) => {
    const r = row(uuid, g, onOpen);
    r.tr._load = r.load;
    tbody.append(r.tr);
    if (r.load) observer.observe(r.tr);
    return r.tr;
  });
  const filter = h("input.filter", { type: "search", placeholder: `filter ${groups.length} instances`, "aria-label": "filter instances" });
  const count = h("span.muted", `${groups.length} volume${groups.length === 1 ? "" : "s"}, ${Object.keys(repo.DataInstances || {}).length} instances`);
  filter.addEventListener("input", () => {
    const q = filter.value.trim().toLowerCase();
    let shown = 0;
    for (const tr of rows) {
      const hit = !q || tr.dataset.name.toLowerCase().includes(q) || tr.dataset.type.includes(q);
      tr.hidden = !hit;
      shown += hit;
    }
    count.textContent = q ? `${shown} of ${rows.length} shown` : `${groups.length} volumes`;
  });
  const table = h(
    "table.instances",
    h(
      "thead",
      h("tr", ["", "instance", "levels", "geometry", "extents at this version", ""].map((t) => h("th", t))),
    ),
    tbody,
  );
  const section = h(
    "section.instances-section",
    h("div.section-head", h("h3", "Instances"), count, h("div.spacer"), groups.length > 6 ? filter : ""),
    groups.length ? table : h("p.muted", "No data instances in this repo yet."),
  );
  section._disconnect = () => observer.disconnect();
  return section;
}
