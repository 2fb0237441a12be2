/*
 * The viewer page's entry point (tiny; build.mjs): lays out the viewer with the page's
 * server-rendered preview of the opening slice in place (dom.js adoptLayout), lets the
 * browser paint it, then imports viewer.js. The page has already asked for viewer.js and
 * its chunks (<link rel="modulepreload">), so they download and compile meanwhile;
 * importing them earlier let their evaluation (hundreds of ms of main thread on this
 * machine) run before the preview's first paint on returning visits.
 * Pages that load viewer.js themselves (result pages) need none of this.
 */
import { adoptLayout } from "./dom.js";

const root = document.getElementById("osteolens-viewer");
if (root) adoptLayout(root);

// requestAnimationFrame runs just before a frame is painted; the timeout after it runs
// once that frame is out. Hidden tabs get no frames, hence the fallback.
const painted = new Promise((resolve) => {
  requestAnimationFrame(() => setTimeout(resolve, 0));
  setTimeout(resolve, 200);
});
// A computed URL: esbuild leaves it alone, so this loads the viewer.js entry itself
// (the very module the page preloaded), not a second copy.
painted
  .then(() => import(new URL("./viewer.js", import.meta.url).href))
  .catch((err) => {
    console.error("viewer.js could not be loaded", err);
    const note = root?.querySelector(".olv-preview-note");
    if (note) note.textContent = "Preview only: the viewer could not be loaded. Reload the page to try again.";
  });
