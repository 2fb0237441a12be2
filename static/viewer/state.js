// window.osteolensViewer: the page's public, JSON-friendly state. Browser tests and the
// surrounding Django page read it; it is refreshed after every render.
export function createState() {
  const state = {
    ready: false,
    renderer: null, // "gpu" | "cpu"
    mode: "stack", // "stack" | "mpr"
    seriesUid: null,
    sliceIndex: 0,
    sliceCount: 0,
    imageId: null,
    windowCenter: null,
    windowWidth: null,
    invert: false,
    scaleUnit: null, // "mm" | "px" (no pixel spacing in the file)
    cached: 0, // images of the current series in the cache
    cacheMs: null, // time to cache the whole current series, once done
    firstImageMs: null, // navigation start -> first IMAGE_RENDERED (Cornerstone's, not the preview)
    preview: null, // image id of the page's server-rendered preview (gone once firstImageMs is set)
    renders: 0,
    timings: {}, // ms since navigation start: module evaluated, config read, engine ready
    measurements: [], // [{tool: "Length"|"Angle", value, unit}] as they are completed
    overlays: { labelmap: false, heatmap: null, marker: false },
    notices: [],
    errors: [],
  };
  window.osteolensViewer = state;
  return state;
}

export function reportError(state, where, err) {
  const message = `${where}: ${err && err.message ? err.message : String(err)}`;
  state.errors.push(message);
  console.error(message, err);
  const box = document.querySelector(".olv-errors");
  if (box) {
    box.hidden = false;
    box.textContent = state.errors.join("\n");
  }
}
