// The embedded neuroglancer: an overlay over the console with the viewer our server serves at
// /neuroglancer/v/<uuid>@<name>/ (same origin, state preset by the server), closable with Esc.

import { h } from "./api.js";

let overlay = null;

export function closeViewer() {
  if (!overlay) return;
  overlay.remove();
  overlay = null;
  document.body.classList.remove("viewing");
}

export function openViewer({ url, title }) {
  closeViewer();
  const frame = h("iframe.viewer-frame", { src: url, title: `neuroglancer: ${title}`, allow: "fullscreen" });
  overlay = h(
    "div.viewer-overlay",
    { role: "dialog", "aria-label": `neuroglancer: ${title}` },
    h(
      "div.viewer-bar",
      h("strong", "neuroglancer"),
      h("span.viewer-title", title),
      h("div.spacer"),
      h("a.button.small", { href: url, target: "_blank", rel: "noopener" }, "Open in new tab ↗"),
      h("button.small", { "data-action": "close-viewer", onclick: closeViewer }, "Close ✕"),
    ),
    frame,
  );
  document.body.append(overlay);
  document.body.classList.add("viewing");
}

document.addEventListener("keydown", (ev) => {
  if (ev.key === "Escape" && overlay) closeViewer();
});
