// Bundles the OsteoLens viewer into static/build/viewer/ (git-ignored; whitenoise serves it).
// Usage: npm run build   (node static/viewer/build.mjs)
import { build } from "esbuild";
import { copyFile, mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..");
const outdir = path.join(root, "static", "build", "viewer");
const modules = path.join(root, "node_modules");

// The loader starts its decoder with
//   new Worker(new URL('./decodeImageFrameWorker.js', import.meta.url))
// and esbuild leaves that URL alone, so the worker must be a second entry point
// that lands beside viewer.js under exactly that name.
const workerEntry = path.join(modules, "@cornerstonejs/dicom-image-loader/dist/esm/decodeImageFrameWorker.js");
// viewer.js imports the loader's init module directly (the package's exports map does not
// list it): the package index would also bring the worker's codecs into the main chunks.
const loaderInit = path.join(modules, "@cornerstonejs/dicom-image-loader/dist/esm/init.js");

// Decoders load these at run time from the wasmBasePath given to the loader's init.
const WASM = [
  "@cornerstonejs/codec-openjpeg/dist/openjpegwasm_decode.wasm",
  "@cornerstonejs/codec-charls/dist/charlswasm_decode.wasm",
  "@cornerstonejs/codec-libjpeg-turbo-8bit/dist/libjpegturbowasm_decode.wasm",
  "@cornerstonejs/codec-libjxl/dist/jpegxlwasm_decode.wasm",
  "@cornerstonejs/codec-openjph/dist/openjphjs.wasm",
];

await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });

// vtk.js's XML reader/writer (mesh files, never used here) imports xmlbuilder2,
// which does not bundle for the browser; replace it with an empty module.
await writeFile(path.join(outdir, ".xmlbuilder2-stub.js"), "export const create = () => { throw new Error('xmlbuilder2 is not bundled'); };\nexport default {};\n");
// seedrandom (in Cornerstone core) tries `require("crypto")` when its module loads and
// falls back to the browser's crypto.getRandomValues. Left external, esbuild's require shim
// throws there, on every page load; an empty module gives seedrandom its fallback quietly.
await writeFile(path.join(outdir, ".crypto-stub.js"), "export default {};\n");

// vtk.js's rendering profiles register both its WebGL and its WebGPU back-ends; Cornerstone
// renders through WebGL only, and the WebGPU half is ~210 KB the browser would compile and
// run on every first visit. Its two profile modules become empty.
const noWebGpu = {
  name: "no-vtk-webgpu",
  setup(b) {
    b.onResolve({ filter: /[\\/]WebGPU[\\/]Profiles[\\/](Geometry|Volume)\.js$/ }, (args) =>
      args.importer.includes("@kitware") ? { path: args.path, namespace: "empty" } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "empty" }, () => ({ contents: "", loader: "js" }));
  },
};

const started = Date.now();
const result = await build({
  entryPoints: {
    // boot.js: tiny, lays out the page and shows the server's preview before the big
    // chunks have compiled; viewer.js adopts its layout (shared dom.js chunk).
    boot: path.join(here, "boot.js"),
    viewer: path.join(here, "viewer.js"),
    decodeImageFrameWorker: workerEntry,
  },
  outdir,
  bundle: true,
  format: "esm",
  // interactive.js (the tools) becomes its own chunk, loaded after the first image.
  // Chunks stay in the same folder: wherever the loader's `new URL('./decodeImageFrameWorker.js',
  // import.meta.url)` ends up, it must resolve beside the worker.
  splitting: true,
  chunkNames: "[name]-[hash]",
  platform: "browser",
  target: ["es2020"],
  minify: true,
  sourcemap: false,
  legalComments: "none",
  // Codec glue code mentions Node built-ins behind runtime checks; they are never loaded in a browser.
  external: ["fs", "path", "module", "worker_threads"],
  alias: {
    xmlbuilder2: path.join(outdir, ".xmlbuilder2-stub.js"),
    crypto: path.join(outdir, ".crypto-stub.js"),
    "olv-loader-init": loaderInit,
  },
  // The wasm URLs in the decoders are `new URL(<bare specifier>, import.meta.url)`:
  // esbuild keeps them as strings; the real files come from the copy below.
  loader: { ".wasm": "file" },
  plugins: [noWebGpu],
  logLevel: "warning",
  metafile: true,
});
await rm(path.join(outdir, ".xmlbuilder2-stub.js"));
await rm(path.join(outdir, ".crypto-stub.js"));

for (const spec of WASM) {
  // Plain paths: the codec packages do not export their dist/ files.
  const src = path.join(modules, spec);
  await copyFile(src, path.join(outdir, path.basename(src)));
}
await copyFile(path.join(here, "viewer.css"), path.join(outdir, "viewer.css"));

// modules.json: viewer.js and every chunk it imports statically. The viewer page lists
// them as <link rel="modulepreload"> (platform/viewer/bundle.py) so the browser fetches
// and compiles them while boot.js shows the preview; boot.js then imports viewer.js.
// Chromium preloads only the modules named, not their imports, hence the whole list.
const outputs = result.metafile.outputs;
const rel = (file) => path.relative(outdir, path.resolve(root, file));
const entry = Object.keys(outputs).find((file) => outputs[file].entryPoint && rel(file) === "viewer.js");
const seen = new Set();
const walk = (file) => {
  if (seen.has(file)) return;
  seen.add(file);
  for (const imported of outputs[file].imports) if (imported.kind === "import-statement" && outputs[imported.path]) walk(imported.path);
};
walk(entry);
// Largest first: on a first visit it takes longest to arrive and compile.
const ordered = [...seen].sort((a, b) => outputs[b].bytes - outputs[a].bytes);
await writeFile(path.join(outdir, "modules.json"), JSON.stringify(ordered.map(rel)) + "\n");
console.log(`viewer built into ${path.relative(root, outdir)} in ${Date.now() - started} ms`);
