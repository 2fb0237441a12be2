/*
 * OsteoLens viewer (Cornerstone3D 5.14). Bundled by build.mjs into static/build/viewer/.
 *
 * MOUNT (the Django template provides):
 *   <link rel="stylesheet" href="{% static 'build/viewer/viewer.css' %}">
 *   <div id="osteolens-viewer" data-config-url="/cases/.../viewer-config.json"></div>
 *     or, inline instead of data-config-url:
 *   <script type="application/json" id="viewer-config">{...}</script>
 *   <script type="module" src="{% static 'build/viewer/viewer.js' %}"></script>
 *
 * CONFIG (JSON; URLs absolute or relative to the page):
 * {
 *   "wasm_base_path": "https://host/static/build/viewer/",   REQUIRED: folder of the codec
 *                       .wasm files; without it compressed images render black.
 *   "series": [{
 *     "series_uid": "1.2...", "description": "Axial 3 mm", "modality": "CT",
 *     "thumbnail_url": "/.../thumb.png" | null,
 *     "image_ids": ["wadouri:https://host/.../instances/<sop>/file", ...],  sorted: shown in this order
 *     "is_volume": true,            CT with more than one slice: enables MPR
 *     "window_center": 40, "window_width": 400,   from the DICOM (null: use the file's VOI / min-max)
 *     "photometric": "MONOCHROME2"
 *   }, ...],
 *   "initial_series_uid": "1.2..."            optional, default: the first series
 *   "force_cpu": false                        optional: CPU rendering even with WebGL
 *   "decode_workers": 2                       optional: decode web workers (default 2..4)
 *   "analysis": {"synthetic_training": true}  optional: labels model output as demo-only
 *   "overlays": {                             optional, every part optional
 *     "labelmap": {"url": "<overlay volume header URL, uint8>", "series_uid": "1.2...",
 *                  "structures": [{"value": 1, "name": "Tumour", "color": [255, 0, 0]}]},
 *     "heatmaps": {"gradcam":  {"url": "<overlay volume header URL>", "kind": "volume"|"image",
 *                               "series_uid": "1.2..." (default: the labelmap's, else the first series)},
 *                  "scorecam": {...}},
 *     "marker": {"world": [x, y, z], "label": "Lesion"}     DICOM patient coordinates (mm, LPS)
 *   }
 * }
 *
 * OVERLAY VOLUME (labelmap and heat-maps): GET url -> {"shape": [slices, rows, cols],
 * "dtype": "uint8"|"float32", "data_url": "<raw little-endian array URL>"}; slice k lies on
 * image_ids[k] of its series, rows x cols row-major like the DICOM pixels. Heat-maps:
 * float32 in [0, 1] or uint8 0..255. Labelmaps: uint8, value = structure value.
 *
 * STATE: window.osteolensViewer (see state.js) is refreshed on every render.
 */
import * as cs from "@cornerstonejs/core";
// The loader's init module itself, not its package index: the index also re-exports the
// worker's decode function, which drags every codec's glue code (~160 KB) into the main
// thread's chunks, where nothing decodes (build.mjs).
import initDicomLoader from "olv-loader-init";
import { adoptLayout, buildThumbnails, el, hasOverlays, markSelected, removePreview } from "./dom.js";
import { enableMprViewports, loadVolume, MPR_VIEWPORTS, showVolume } from "./mpr.js";
import { HeatmapLayer, redrawOverlay, updateOrientation } from "./overlay.js";
import { createState, reportError } from "./state.js";
import { fetchOverlayVolume } from "./volumeio.js";

const ENGINE_ID = "osteolens";
const SEGMENTATION_ID = "olv-labelmap";
const PRESETS_CT = [
  { key: "bone", label: "Bone W2000/L500", width: 2000, center: 500 },
  { key: "soft", label: "Soft tissue W400/L40", width: 400, center: 40 },
];

const state = createState();
let ui = null; // interactive.js (tools, segmentation), loaded after the first image
state.timings.moduleStart = Math.round(performance.now());
const app = {
  config: null,
  dom: null,
  engine: null,
  series: null,
  cpu: false,
  mode: "stack",
  activeViewportId: "stack",
  groups: {},
  caching: new Map(), // series_uid -> Promise of the whole series in the cache
  heatmaps: {}, // name -> Promise<HeatmapLayer>
  heatmapLayer: null,
  labelmapReady: null, // Promise, once the segmentation exists
  firstRendered: null, // resolves firstPaint
};
// Settles once the first image has been drawn and the browser had a frame to show it.
// A first image that never arrives (a failed load is reported in state.errors) must not
// keep the tools away for good: give up waiting after a few seconds.
const firstPaint = new Promise((resolve) => {
  app.firstRendered = () => requestAnimationFrame(() => setTimeout(resolve, 0));
  setTimeout(resolve, 5000);
});

async function readConfig(root) {
  const inline = document.getElementById("viewer-config");
  if (inline) return JSON.parse(inline.textContent);
  const url = root.dataset.configUrl;
  if (!url) throw new Error("no viewer config: set data-config-url or add #viewer-config");
  const response = await fetch(url, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`viewer config ${url}: HTTP ${response.status}`);
  return response.json();
}

function notice(text) {
  state.notices.push(text);
  const box = app.dom.q(".olv-notice");
  box.hidden = false;
  box.textContent = state.notices.join(" ");
}

// ---------- state and overlays, refreshed on every render ----------

function overlaySeriesUid(entry) {
  const overlays = app.config.overlays || {};
  return (entry && entry.series_uid) || overlays.labelmap?.series_uid || app.config.series[0].series_uid;
}

// Cornerstone fills in defaults (identity orientation, 1 mm pixels) for files without
// geometry, so letters and a mm scale would be made up. DICOM ties the image plane to a
// frame of reference: no FrameOfReferenceUID means no patient geometry (radiographs);
// projection images may still carry a calibrated (imager) pixel spacing.
function planeInfo(imageId) {
  const plane = imageId ? cs.metaData.get("imagePlaneModule", imageId) : null;
  return {
    hasSpacing: !!plane?.rowPixelSpacing && !!(plane.frameOfReferenceUID || plane.calibration),
    hasOrientation: !!plane?.imageOrientationPatient && !!plane.frameOfReferenceUID,
    sliceSpacing: app.series.image_ids.length > 1 ? plane?.sliceThickness || plane?.spacingBetweenSlices || 3 : null,
  };
}

function onRendered(viewportId) {
  const viewport = app.engine?.getViewport(viewportId);
  if (!viewport) return;
  const isStack = viewport instanceof cs.StackViewport;
  // Sagittal and coronal planes have no acquired image id; their geometry is the series'.
  const imageId = viewport.getCurrentImageId();
  if (isStack && !imageId) return;
  const geometryId = imageId || app.series.image_ids[0];
  if (state.firstImageMs === null) {
    state.firstImageMs = Math.round(performance.now());
    removePreview(app.dom);
    app.firstRendered();
  }
  const sliceIndex = isStack ? viewport.getCurrentImageIdIndex() : viewport.getSliceIndex();
  const sliceCount = isStack ? viewport.getImageIds().length : viewport.getNumberOfSlices();
  const info = planeInfo(geometryId);
  const box = app.dom.viewportBox(viewportId);
  box.classList.toggle("no-orientation", !info.hasOrientation);
  if (info.hasOrientation) updateOrientation(box, viewport);
  const showMarker = !!app.config.overlays?.marker && app.dom.q(".olv-marker-toggle").checked && info.hasOrientation;
  redrawOverlay({
    canvas: app.dom.overlay(viewportId),
    viewport,
    imageId: geometryId,
    sliceIndex,
    heatmap: isStack ? app.heatmapLayer : null,
    opacity: Number(app.dom.q(".olv-opacity").value) / 100,
    marker: showMarker ? app.config.overlays?.marker : null,
    sliceSpacing: info.sliceSpacing,
    hasSpacing: info.hasSpacing,
  });
  if (viewportId !== app.activeViewportId) return;
  const { voiRange, invert } = viewport.getProperties();
  const wl = voiRange ? cs.utilities.windowLevel.toWindowLevel(voiRange.lower, voiRange.upper) : {};
  Object.assign(state, {
    mode: app.mode,
    sliceIndex,
    sliceCount,
    imageId: imageId ?? null,
    windowCenter: wl.windowCenter ?? null,
    windowWidth: wl.windowWidth ?? null,
    invert: !!invert,
    renders: state.renders + 1,
  });
  state.overlays.marker = !!showMarker;
  state.scaleUnit = info.hasSpacing ? "mm" : "px";
  const slider = app.dom.q(".olv-slider");
  slider.max = String(sliceCount);
  slider.value = String(sliceIndex + 1);
  app.dom.q(".olv-slice-label").textContent = `slice ${sliceIndex + 1} of ${sliceCount}`;
  app.dom.q(".olv-wl-label").textContent =
    wl.windowWidth != null ? `W ${Math.round(wl.windowWidth)} / L ${Math.round(wl.windowCenter)}` : "";
}

function renderAll() {
  for (const id of currentViewportIds()) app.engine.getViewport(id)?.render();
}

function currentViewportIds() {
  return app.mode === "mpr" ? MPR_VIEWPORTS.map((v) => v.id) : ["stack"];
}

function activeViewport() {
  return app.engine.getViewport(app.activeViewportId);
}

// ---------- loading ----------

// Slices nearest the one on screen first, so scrolling from it finds them cached.
function nearestFirst(ids, start) {
  const order = [ids[start]];
  for (let d = 1; order.length < ids.length; d++) {
    if (start + d < ids.length) order.push(ids[start + d]);
    if (start - d >= 0) order.push(ids[start - d]);
  }
  return order;
}

// Loads every instance of the series into the cache, six requests at a time (the browser's
// per-host limit over HTTP/1.1); decoding runs in the loader's web workers.
function cacheSeries(series) {
  if (!app.caching.has(series.series_uid)) {
    const started = performance.now();
    const ids = nearestFirst(series.image_ids, series.initial_index || 0);
    let next = 0;
    let done = 0;
    const label = app.dom.q(".olv-cache-label");
    // The progress text changes a few times a second, not per image: each change costs the
    // main thread (the caching bottleneck) a style, layout, paint and commit; per image, a
    // 500-slice trace showed about 290 extra frames.
    let progressTimer = null;
    const showProgress = () => {
      progressTimer = null;
      if (app.series === series) label.textContent = done < ids.length ? `loading ${done}/${ids.length}` : "";
    };
    const worker = async () => {
      while (next < ids.length) {
        const imageId = ids[next++];
        try {
          await cs.imageLoader.loadAndCacheImage(imageId);
        } catch (err) {
          reportError(state, `load ${imageId}`, err);
        }
        done += 1;
        if (app.series === series) state.cached = done;
        progressTimer ??= setTimeout(showProgress, 250);
      }
    };
    const promise = Promise.all(Array.from({ length: Math.min(6, ids.length) }, worker)).then(() => {
      clearTimeout(progressTimer);
      showProgress();
      if (app.series === series) state.cacheMs = Math.round(performance.now() - started);
    });
    app.caching.set(series.series_uid, promise);
  }
  return app.caching.get(series.series_uid);
}

function voiForSeries(series, imageId) {
  if (series.window_width) return { width: series.window_width, center: series.window_center };
  const voi = imageId ? cs.metaData.get("voiLutModule", imageId) : null;
  const width = Array.isArray(voi?.windowWidth) ? voi.windowWidth[0] : voi?.windowWidth;
  const center = Array.isArray(voi?.windowCenter) ? voi.windowCenter[0] : voi?.windowCenter;
  return width ? { width, center } : null;
}

function applyPreset(key) {
  const viewportIds = currentViewportIds();
  for (const id of viewportIds) {
    const viewport = app.engine.getViewport(id);
    if (!viewport) continue;
    let voi = PRESETS_CT.find((p) => p.key === key);
    if (key === "dicom") voi = voiForSeries(app.series, viewport.getCurrentImageId());
    if (voi) viewport.setProperties({ voiRange: cs.utilities.windowLevel.toLowHighRange(voi.width, voi.center) });
    else viewport.resetProperties(); // no window in the file: min-max of the pixels
    viewport.render();
  }
  app.dom.q(".olv-presets").value = key;
}

function fillPresets(series) {
  const select = app.dom.q(".olv-presets");
  const own = voiForSeries(series);
  const options = [{ key: "dicom", label: own ? `DICOM W${Math.round(own.width)}/L${Math.round(own.center)}` : "DICOM window" }];
  if (series.modality === "CT") options.push(...PRESETS_CT);
  select.replaceChildren(...options.map((o) => el("option", { value: o.key, text: o.label })));
}

async function mountStack(series, index = 0) {
  const element = app.dom.element("stack");
  if (!app.engine.getViewport("stack")) {
    app.engine.enableElement({
      viewportId: "stack",
      type: cs.Enums.ViewportType.STACK,
      element,
      defaultOptions: { background: [0, 0, 0] },
    });
    app.groups.stack?.addViewport("stack", ENGINE_ID);
  }
  const viewport = app.engine.getViewport("stack");
  await viewport.setStack(series.image_ids, index);
  // Windowing the file asks for; MONOCHROME1 inversion is applied by Cornerstone itself.
  const voi = voiForSeries(series, viewport.getCurrentImageId());
  if (voi) viewport.setProperties({ voiRange: cs.utilities.windowLevel.toLowHighRange(voi.width, voi.center) });
  viewport.render();
}

async function selectSeries(series) {
  if (app.series === series) return;
  if (app.mode === "mpr") await leaveMpr();
  const previous = app.series;
  app.series = series;
  Object.assign(state, { seriesUid: series.series_uid, cached: 0, cacheMs: null });
  markSelected(app.dom, series.series_uid);
  fillPresets(series);
  app.dom.q(".olv-vp-label").textContent = [series.modality, series.description].filter(Boolean).join(" ");
  app.dom.q('[data-action="mpr"]').disabled = !series.is_volume || app.cpu;
  if (previous && state.overlays.labelmap) {
    ui.removeLabelmap("stack", SEGMENTATION_ID);
    state.overlays.labelmap = false;
  }
  await mountStack(series, series.initial_index || 0);
  // The tools chunk (about 1 MB) is compiled on the main thread; imported before the first
  // frame it competed with it (single traces: ~200 ms later; A/B runs on the loaded test
  // machine could not tell the two orders apart).
  await firstPaint;
  // No live image in time (its load failed, reported in state.errors): the preview must
  // not pass for the viewer's picture.
  if (state.firstImageMs === null) removePreview(app.dom);
  await loadInteractive();
  state.ready = true;
  await setupOverlays(series);
  await cacheSeries(series);
}

// ---------- overlays ----------

async function setupOverlays(series) {
  const overlays = app.config.overlays || {};
  app.dom.setPanelVisible(hasOverlays(app.config));
  app.dom.q(".olv-marker").hidden = !overlays.marker;
  // Heat-maps: the choice stays when switching series, but only draws on its own series.
  const heat = overlays.heatmaps || {};
  const names = Object.keys(heat);
  app.dom.q(".olv-heat").hidden = names.length === 0;
  // Demo models learn from synthetic phantoms only; their output must say so wherever shown.
  if (app.config.analysis?.synthetic_training && (names.length || overlays.labelmap || overlays.marker)) {
    app.dom.q(".olv-synthetic").hidden = false;
  }
  if (names.length) {
    const choice = app.dom.q(".olv-heat-choice");
    if (!choice.childElementCount) {
      const radio = (value, label) =>
        el("label", {}, el("input", { type: "radio", name: "olv-heat", value, ...(value === "" ? { checked: "" } : {}) }), ` ${label} `);
      const labels = { gradcam: "Grad-CAM", scorecam: "Score-CAM" };
      choice.append(radio("", "off"), ...names.map((n) => radio(n, labels[n] || n)));
      choice.addEventListener("change", (e) => setHeatmap(e.target.value || null));
    }
    await setHeatmap(state.overlays.heatmap);
  }
  const labelmap = overlays.labelmap;
  const segBox = app.dom.q(".olv-seg");
  segBox.hidden = !labelmap;
  if (!labelmap || overlaySeriesUid(labelmap) !== series.series_uid) return;
  if (app.cpu) {
    segBox.querySelector(".olv-seg-toggle").disabled = true;
    return;
  }
  buildStructureList(labelmap.structures || []);
  // With wadouri the geometry is known only after every file has been fetched.
  await cacheSeries(series);
  if (!app.labelmapReady) {
    app.labelmapReady = fetchOverlayVolume(labelmap.url).then((volume) =>
      ui.createLabelmap(SEGMENTATION_ID, series, volume, labelmap.structures || []),
    );
  }
  await app.labelmapReady;
  if (app.series !== series || app.mode !== "stack") return;
  await ui.showLabelmap("stack", SEGMENTATION_ID, labelmap.structures || []);
  segBox.querySelector(".olv-seg-toggle").checked = true;
  state.overlays.labelmap = true;
  applyStructureVisibility("stack");
}

function buildStructureList(structures) {
  const list = app.dom.q(".olv-structures");
  if (list.childElementCount) return;
  list.replaceChildren(
    ...structures.map((s) =>
      el(
        "li",
        {},
        el(
          "label",
          {},
          el("input", { type: "checkbox", checked: "", "data-value": String(s.value) }),
          el("span", { class: "olv-swatch", style: `background: rgb(${s.color.slice(0, 3).join(",")})` }),
          ` ${s.name}`,
        ),
      ),
    ),
  );
}

// Whole-segmentation visibility is applied per structure too: Cornerstone's
// representation-level switch did not combine reliably with hidden segments.
function applyStructureVisibility(viewportId) {
  const all = app.dom.q(".olv-seg-toggle").checked;
  for (const box of app.dom.q(".olv-structures").querySelectorAll("input")) {
    ui.setStructureVisible(viewportId, SEGMENTATION_ID, Number(box.dataset.value), all && box.checked);
  }
}

function labelmapViewportIds() {
  return ui ? currentViewportIds().filter((id) => ui.hasLabelmap(id, SEGMENTATION_ID)) : [];
}

function toggleLabelmap(visible) {
  if (!app.labelmapReady || !app.config.overlays?.labelmap) return;
  app.dom.q(".olv-seg-toggle").checked = visible;
  const ids = labelmapViewportIds();
  for (const id of ids) applyStructureVisibility(id);
  state.overlays.labelmap = visible && ids.length > 0;
  renderAll();
}

async function setHeatmap(name) {
  const heat = app.config.overlays?.heatmaps || {};
  const entry = name ? heat[name] : null;
  const note = app.dom.q(".olv-heat-note");
  state.overlays.heatmap = name || null;
  app.heatmapLayer = null;
  note.textContent = "";
  if (entry) {
    if (overlaySeriesUid(entry) !== app.series.series_uid) {
      note.textContent = "This map belongs to another series.";
    } else {
      if (!app.heatmaps[name]) app.heatmaps[name] = fetchOverlayVolume(entry.url).then((v) => new HeatmapLayer(v));
      try {
        app.heatmapLayer = await app.heatmaps[name];
      } catch (err) {
        reportError(state, `heat-map ${name}`, err);
      }
      if (app.mode === "mpr") note.textContent = "Heat-maps show on the single-view stack.";
    }
  }
  const radio = app.dom.q(`.olv-heat-choice input[value="${name || ""}"]`);
  if (radio) radio.checked = true;
  renderAll();
}

function cycleHeatmap() {
  const names = [null, ...Object.keys(app.config.overlays?.heatmaps || {})];
  if (names.length > 1) setHeatmap(names[(names.indexOf(state.overlays.heatmap) + 1) % names.length]);
}

// ---------- MPR ----------

async function enterMpr() {
  const series = app.series;
  if (!series.is_volume || app.cpu || app.mode === "mpr") return;
  await cacheSeries(series);
  const volumeId = await loadVolume(series);
  const voiRange = activeViewport().getProperties().voiRange;
  app.groups.stack.removeViewports(ENGINE_ID, "stack");
  app.engine.disableElement("stack");
  app.dom.q(".olv-layout-stack").hidden = true;
  app.dom.q(".olv-layout-mpr").hidden = false;
  app.mode = "mpr";
  app.activeViewportId = "axial";
  const elements = Object.fromEntries(MPR_VIEWPORTS.map(({ id }) => [id, app.dom.element(id)]));
  enableMprViewports(app.engine, elements);
  if (!app.groups.mpr) app.groups.mpr = ui.createToolGroup("olv-mpr");
  for (const { id } of MPR_VIEWPORTS) app.groups.mpr.addViewport(id, ENGINE_ID);
  await showVolume(app.engine, volumeId, voiRange);
  state.overlays.labelmap = false;
  if (app.labelmapReady && overlaySeriesUid(app.config.overlays.labelmap) === series.series_uid) {
    try {
      for (const { id } of MPR_VIEWPORTS) {
        await ui.showLabelmap(id, SEGMENTATION_ID, app.config.overlays.labelmap.structures || []);
        applyStructureVisibility(id);
      }
      state.overlays.labelmap = app.dom.q(".olv-seg-toggle").checked;
    } catch (err) {
      notice("The segmentation could not be shown in MPR.");
      console.warn(err);
    }
  }
  app.dom.q('[data-action="mpr"]').classList.add("active");
  if (state.overlays.heatmap) app.dom.q(".olv-heat-note").textContent = "Heat-maps show on the single-view stack.";
  renderAll();
}

async function leaveMpr() {
  if (app.mode !== "mpr") return;
  for (const { id } of MPR_VIEWPORTS) {
    app.groups.mpr.removeViewports(ENGINE_ID, id);
    app.engine.disableElement(id);
  }
  app.dom.q(".olv-layout-mpr").hidden = true;
  app.dom.q(".olv-layout-stack").hidden = false;
  app.mode = "stack";
  app.activeViewportId = "stack";
  app.dom.q('[data-action="mpr"]').classList.remove("active");
  app.dom.q(".olv-heat-note").textContent = "";
  const index = Math.max(0, app.series.image_ids.indexOf(state.imageId));
  await mountStack(app.series, index);
  if (app.labelmapReady && overlaySeriesUid(app.config.overlays.labelmap) === app.series.series_uid) {
    await ui.showLabelmap("stack", SEGMENTATION_ID, app.config.overlays.labelmap.structures || []);
    applyStructureVisibility("stack");
    state.overlays.labelmap = app.dom.q(".olv-seg-toggle").checked;
  }
}

// ---------- controls ----------

function selectTool(name) {
  const group = app.groups[app.mode];
  if (!group) return;
  ui.setPrimaryTool(group, ui.TOOLS[name]);
  for (const b of app.dom.root.querySelectorAll('[data-action^="tool:"]')) {
    b.classList.toggle("active", b.dataset.action === `tool:${name}`);
  }
}

function scrollBy(delta) {
  const viewport = activeViewport();
  if (viewport) cs.utilities.scroll(viewport, { delta });
}

function toggleInvert() {
  for (const id of currentViewportIds()) {
    const viewport = app.engine.getViewport(id);
    viewport.setProperties({ invert: !viewport.getProperties().invert });
    viewport.render();
  }
}

function resetView() {
  for (const id of currentViewportIds()) {
    const viewport = app.engine.getViewport(id);
    viewport.resetCamera();
  }
  applyPreset("dicom");
}

function toggleHelp(show) {
  const help = app.dom.q(".olv-help");
  help.hidden = show === undefined ? !help.hidden : !show;
}

const ACTIONS = {
  invert: toggleInvert,
  reset: resetView,
  mpr: () => (app.mode === "mpr" ? leaveMpr() : enterMpr()),
  help: () => toggleHelp(),
};

const KEYS = {
  ArrowUp: () => scrollBy(-1),
  ArrowLeft: () => scrollBy(-1),
  ArrowDown: () => scrollBy(1),
  ArrowRight: () => scrollBy(1),
  PageUp: () => scrollBy(-10),
  PageDown: () => scrollBy(10),
  w: () => selectTool("windowLevel"),
  p: () => selectTool("pan"),
  z: () => selectTool("zoom"),
  l: () => selectTool("length"),
  a: () => selectTool("angle"),
  1: () => applyPreset("dicom"),
  2: () => app.series.modality === "CT" && applyPreset("bone"),
  3: () => app.series.modality === "CT" && applyPreset("soft"),
  i: toggleInvert,
  r: resetView,
  m: ACTIONS.mpr,
  s: () => toggleLabelmap(!state.overlays.labelmap),
  h: cycleHeatmap,
  "?": () => toggleHelp(),
  Escape: () => toggleHelp(false),
};

function run(where, fn) {
  Promise.resolve()
    .then(fn)
    .catch((err) => reportError(state, where, err));
}

function wireControls() {
  const { root, q } = app.dom;
  root.addEventListener("click", (e) => {
    const action = e.target.closest("[data-action]")?.dataset.action;
    if (!action) return;
    if (action.startsWith("tool:")) selectTool(action.slice(5));
    else run(action, ACTIONS[action]);
  });
  q(".olv-presets").addEventListener("change", (e) => applyPreset(e.target.value));
  q(".olv-slider").addEventListener("input", (e) => {
    const viewport = activeViewport();
    if (viewport) run("slider", () => cs.utilities.jumpToSlice(viewport.element, { imageIndex: Number(e.target.value) - 1 }));
  });
  q(".olv-opacity").addEventListener("input", renderAll);
  q(".olv-marker-toggle").addEventListener("change", renderAll);
  q(".olv-seg-toggle").addEventListener("change", (e) => toggleLabelmap(e.target.checked));
  q(".olv-structures").addEventListener("change", () => {
    for (const id of labelmapViewportIds()) applyStructureVisibility(id);
    renderAll();
  });
  document.addEventListener("keydown", (e) => {
    // Shortcuts work everywhere except where the key types text or moves a list selection.
    const tag = e.target.tagName;
    const typing = tag === "TEXTAREA" || tag === "SELECT" || (tag === "INPUT" && !["range", "checkbox", "radio", "button"].includes(e.target.type));
    if (typing) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const handler = KEYS[e.key] || KEYS[e.key.toLowerCase()];
    if (!handler) return;
    e.preventDefault();
    run(`key ${e.key}`, handler);
  });
  for (const id of ["stack", ...MPR_VIEWPORTS.map((v) => v.id)]) {
    const element = app.dom.element(id);
    element.addEventListener("contextmenu", (e) => e.preventDefault());
    element.addEventListener(cs.Enums.Events.IMAGE_RENDERED, () => onRendered(id));
    element.addEventListener("pointerdown", () => {
      if (app.mode === "mpr") app.activeViewportId = id;
    });
  }
  new ResizeObserver(() => app.engine?.resize(true, true)).observe(q(".olv-stage"));
  cs.eventTarget.addEventListener(cs.Enums.Events.IMAGE_LOAD_FAILED, (e) =>
    reportError(state, "image load", e.detail?.error || e.detail?.imageId),
  );
}

// ---------- start ----------

// Completed measurements, summarised for the page state (the tool draws them itself).
function recordMeasurement(annotation) {
  const stats = Object.values(annotation.data?.cachedStats || {})[0] || {};
  state.measurements.push({
    tool: annotation.metadata?.toolName,
    value: stats.length ?? stats.angle ?? null,
    unit: stats.unit ?? (stats.angle != null ? "deg" : null),
  });
}

function loadInteractive() {
  if (!app.interactive) {
    app.interactive = import("./interactive.js").then((module) => {
      ui = module;
      ui.initTools(recordMeasurement);
      app.groups.stack = ui.createToolGroup("olv-stack");
      if (app.engine.getViewport("stack")) app.groups.stack.addViewport("stack", ENGINE_ID);
      selectTool("windowLevel");
      state.timings.tools = Math.round(performance.now());
    });
  }
  return app.interactive;
}

// Coordinate helpers for tests and the host page (CSS px relative to the viewport box).
window.osteolensViewerApi = {
  imageToCanvas(col, row, viewportId = app.activeViewportId) {
    const viewport = app.engine.getViewport(viewportId);
    return viewport.worldToCanvas(cs.utilities.imageToWorldCoords(viewport.getCurrentImageId(), [col, row]));
  },
  worldToCanvas(world, viewportId = app.activeViewportId) {
    return app.engine.getViewport(viewportId).worldToCanvas(world);
  },
  metadata: (type, imageId = state.imageId) => cs.metaData.get(type, imageId),
  setHeatmap: (name) => setHeatmap(name),
  applyPreset: (key) => applyPreset(key),
  enterMpr: () => enterMpr(),
  leaveMpr: () => leaveMpr(),
};

async function main() {
  const root = document.getElementById("osteolens-viewer");
  if (!root) return;
  app.dom = adoptLayout(root);
  const config = await readConfig(root);
  app.config = config;
  if (!config.wasm_base_path) throw new Error("config.wasm_base_path is required (compressed images would render black)");
  if (!config.series?.length) throw new Error("config.series is empty");
  state.timings.config = Math.round(performance.now());
  // Cornerstone's default pool is 7 WebGL contexts, created up front; with a software
  // rasteriser (SwiftShader) each costs tens of ms before the first image. At most three
  // viewports are on screen here.
  cs.init({ rendering: { webGlContextCount: 2 } });
  const webgl = !!cs.getRenderingCapabilities().webgl;
  app.cpu = !!config.force_cpu || !webgl || cs.getShouldUseCPURendering();
  if (app.cpu) {
    cs.setUseCPURendering(true);
    notice(
      `${webgl ? "CPU rendering was requested" : "WebGL is not available"}: images are drawn on the CPU. ` +
        "Segmentation overlays and MPR need WebGL.",
    );
  }
  state.renderer = app.cpu ? "cpu" : "gpu";
  // Two decode workers even on a 2-core machine: fetch and decode then overlap (measured:
  // 500 uncompressed slices cached about 20 % faster than with one).
  const workers = config.decode_workers || Math.min(4, Math.max(2, (navigator.hardwareConcurrency || 2) - 1));
  initDicomLoader({ maxWebWorkers: workers, wasmBasePath: config.wasm_base_path });
  const first = config.series.find((s) => s.series_uid === config.initial_series_uid) || config.series[0];
  // The server-rendered preview must show the image the live render will; else drop it.
  const preview = root.querySelector(".olv-preview");
  state.preview = preview?.dataset.imageId ?? null;
  if (state.preview && state.preview !== first.image_ids[first.initial_index || 0]) {
    reportError(state, "preview", new Error(`preview of ${state.preview} is not the opening image`));
    removePreview(app.dom);
  }
  // Start fetching and decoding the first image now: the decode worker's start-up and the
  // fetch then overlap with the tools and rendering engine set-up below.
  cs.imageLoader
    .loadAndCacheImage(first.image_ids[first.initial_index || 0])
    .then(() => (state.timings.firstDecoded = Math.round(performance.now())))
    .catch(() => {});
  app.engine = new cs.RenderingEngine(ENGINE_ID);
  wireControls();
  buildThumbnails(app.dom, config.series, (s) => run("series", () => selectSeries(s)));
  state.timings.engine = Math.round(performance.now());
  await selectSeries(first);
}

main().catch((err) => {
  reportError(state, "viewer", err);
  if (app.dom) removePreview(app.dom);
});
