// Builds the viewer's DOM inside the mount element. Plain DOM, no framework.
import { cssGradient } from "./colormap.js";

export const SHORTCUTS = [
  ["Wheel, Up / Down", "previous / next slice"],
  ["Page Up / Page Down", "10 slices back / forward"],
  ["W", "window/level tool (drag)"],
  ["P", "pan tool (or middle button)"],
  ["Z", "zoom tool (or right button)"],
  ["L", "length measurement"],
  ["A", "angle measurement"],
  ["1 / 2 / 3", "window preset: DICOM / bone / soft tissue"],
  ["I", "invert"],
  ["R", "reset view"],
  ["M", "MPR on / off (CT volumes)"],
  ["S", "segmentation on / off"],
  ["H", "heat-map: off / Grad-CAM / Score-CAM"],
  ["?", "this help"],
];

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

function viewportBox(id, label) {
  return el(
    "div",
    { class: "olv-vp", "data-viewport": id },
    el("div", { class: "olv-cs" }),
    el("canvas", { class: "olv-overlay" }),
    ...["top", "bottom", "left", "right"].map((side) => el("div", { class: `olv-orient olv-orient-${side}` })),
    el("div", { class: "olv-vp-label", text: label }),
  );
}

export function buildLayout(root) {
  root.classList.add("olv");
  root.replaceChildren();
  const button = (action, text, title) => el("button", { type: "button", "data-action": action, title }, text);
  const toolbar = el(
    "div",
    { class: "olv-toolbar", role: "toolbar" },
    button("tool:windowLevel", "W/L", "Window/level (W)"),
    button("tool:pan", "Pan", "Pan (P)"),
    button("tool:zoom", "Zoom", "Zoom (Z)"),
    button("tool:length", "Length", "Length (L)"),
    button("tool:angle", "Angle", "Angle (A)"),
    el("select", { class: "olv-presets", title: "Window presets (1/2/3)" }),
    button("invert", "Invert", "Invert (I)"),
    button("reset", "Reset", "Reset view (R)"),
    button("mpr", "MPR", "Axial / sagittal / coronal (M)"),
    button("help", "?", "Keyboard shortcuts (?)"),
  );
  const stage = el(
    "div",
    { class: "olv-stage" },
    el("div", { class: "olv-layout-stack" }, viewportBox("stack", "")),
    el(
      "div",
      { class: "olv-layout-mpr", hidden: "" },
      viewportBox("axial", "Axial"),
      viewportBox("sagittal", "Sagittal"),
      viewportBox("coronal", "Coronal"),
    ),
  );
  const sliceBar = el(
    "div",
    { class: "olv-slicebar" },
    el("input", { type: "range", class: "olv-slider", min: "1", max: "1", value: "1", "aria-label": "Slice" }),
    el("span", { class: "olv-slice-label", text: "" }),
    el("span", { class: "olv-wl-label", text: "" }),
    el("span", { class: "olv-cache-label", text: "" }),
  );
  const panel = el(
    "aside",
    { class: "olv-panel" },
    el("p", { class: "olv-synthetic", hidden: "", text: "Model output from a demo model trained on synthetic phantoms only." }),
    el(
      "section",
      { class: "olv-seg", hidden: "" },
      el("h3", { text: "Segmentation" }),
      el("label", {}, el("input", { type: "checkbox", class: "olv-seg-toggle" }), " show"),
      el("ul", { class: "olv-structures" }),
    ),
    el(
      "section",
      { class: "olv-heat", hidden: "" },
      el("h3", { text: "Saliency" }),
      el("div", { class: "olv-heat-choice" }),
      el("label", {}, "opacity ", el("input", { type: "range", class: "olv-opacity", min: "0", max: "100", value: "50" })),
      el(
        "div",
        { class: "olv-colourbar-wrap" },
        el("div", { class: "olv-colourbar", style: `background: ${cssGradient()}` }),
        el("div", { class: "olv-colourbar-labels" }, el("span", { text: "high" }), el("span", { text: "low" })),
      ),
      el("p", { class: "olv-heat-note", text: "" }),
    ),
    el(
      "section",
      { class: "olv-marker", hidden: "" },
      el("h3", { text: "Location" }),
      el("label", {}, el("input", { type: "checkbox", class: "olv-marker-toggle", checked: "" }), " tumour marker"),
    ),
  );
  const help = el(
    "div",
    { class: "olv-help", hidden: "", role: "dialog", "aria-label": "Keyboard shortcuts" },
    el("h3", { text: "Keyboard shortcuts" }),
    el("table", {}, ...SHORTCUTS.map(([k, d]) => el("tr", {}, el("th", { text: k }), el("td", { text: d })))),
    el("p", { text: "Mouse: left = current tool, middle = pan, right = zoom, wheel = scroll." }),
  );
  root.append(
    el("aside", { class: "olv-series", "aria-label": "Series" }),
    el(
      "div",
      { class: "olv-main" },
      toolbar,
      el("div", { class: "olv-notice", hidden: "", role: "status" }),
      el("pre", { class: "olv-errors", hidden: "", role: "alert" }),
      stage,
      sliceBar,
    ),
    panel,
    help,
  );
  const q = (selector) => root.querySelector(selector);
  return {
    root,
    q,
    setPanelVisible: (visible) => root.classList.toggle("olv-no-panel", !visible),
    viewportBox: (id) => q(`.olv-vp[data-viewport="${id}"]`),
    element: (id) => q(`.olv-vp[data-viewport="${id}"] .olv-cs`),
    overlay: (id) => q(`.olv-vp[data-viewport="${id}"] .olv-overlay`),
  };
}

// The layout of `root`, built once: boot.js (the small first entry) builds it before the
// Cornerstone chunks have been compiled, viewer.js then finds it here. A server-rendered
// <img class="olv-preview"> in the mount moves into the stack viewport, under a "loading"
// note, until viewer.js calls removePreview on its first live render.
export function adoptLayout(root) {
  if (!root.olvDom) {
    const preview = root.querySelector(":scope > .olv-preview");
    const dom = buildLayout(root);
    // The overlay panel's column is decided now, from the page's inline config, so the
    // stage keeps its size when the viewer starts (no jump from preview to live image).
    const config = inlineConfig();
    if (config) dom.setPanelVisible(hasOverlays(config));
    if (preview) {
      const box = dom.viewportBox("stack");
      box.append(preview, el("div", { class: "olv-preview-note", role: "status", text: "Preview · loading viewer tools…" }));
      root.classList.add("olv-previewing");
    }
    root.olvDom = dom;
  }
  return root.olvDom;
}

export function removePreview(dom) {
  for (const node of dom.root.querySelectorAll(".olv-preview, .olv-preview-note")) node.remove();
  dom.root.classList.remove("olv-previewing");
}

function inlineConfig() {
  try {
    return JSON.parse(document.getElementById("viewer-config")?.textContent || "null");
  } catch {
    return null; // viewer.js reports a broken config
  }
}

export function hasOverlays(config) {
  const o = config?.overlays || {};
  return !!(o.labelmap || o.marker || Object.keys(o.heatmaps || {}).length);
}

export function buildThumbnails(dom, seriesList, onSelect) {
  const list = dom.q(".olv-series");
  list.replaceChildren(
    ...seriesList.map((s, i) => {
      const item = el(
        "button",
        { type: "button", class: "olv-thumb", "data-series-uid": s.series_uid, title: s.description || s.series_uid },
        s.thumbnail_url ? el("img", { src: s.thumbnail_url, alt: "", loading: "lazy" }) : el("div", { class: "olv-thumb-blank" }),
        el("span", { text: `${s.modality || ""} ${s.description || ""}`.trim() || `Series ${i + 1}` }),
        el("small", { text: `${s.image_ids.length} image${s.image_ids.length === 1 ? "" : "s"}` }),
      );
      item.addEventListener("click", () => onSelect(s));
      return item;
    }),
  );
}

export function markSelected(dom, seriesUid) {
  for (const item of dom.root.querySelectorAll(".olv-thumb")) {
    item.classList.toggle("selected", item.dataset.seriesUid === seriesUid);
  }
}

export { el };
