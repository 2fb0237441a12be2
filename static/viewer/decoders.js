/*
 * The DICOM decode web workers, started by boot.js before the big Cornerstone chunk has
 * compiled, and handed to the image loader by viewer.js.
 *
 * Why: on a cold visit the first live image waited for viewer.js to evaluate (about
 * 0.45 s here), then for a worker to start, load its chunks, fetch and compile the codec's
 * wasm and decode with not yet compiled wasm functions (about 0.25 s more for the real
 * JPEG 2000 CT). Started from boot.js the worker does all of that while the main thread is
 * still busy with the bundle; a tiny image in the opening image's transfer syntax is
 * decoded once so the codec is loaded and its decode path compiled before the real image
 * arrives.
 *
 * The workers are the loader's own (decodeImageFrameWorker.js, comlink); only who creates
 * them changes. Comlink releases a worker's endpoint when the last proxy wrapping it is
 * garbage-collected, which would leave the worker deaf: the warm-up proxies are kept for
 * the page's lifetime.
 */
import * as Comlink from "comlink";

const J2K_32X32 =
  "/0//UQApAAAAAAAgAAAAIAAAAAAAAAAAAAAAIAAAACAAAAAAAAAAAAABCwEB/1IADAAAAAEABQQEAAH/XAATQGBoaHBoaHBoaHBoaHBoaHD/ZAAlAAFDcmVhdGVkIGJ5IE9wZW5KUEVHIHZlcnNpb24gMi41LjL/kAAKAAAAAABlAAH/k8/kCAdfwD6gKP5AgAF/AWDAHzg4fsCgDPb3CzmNRn/AD5AkH5g4Ihh3vwN+irm2h3/AB8IkD8AoNqGFPz2mLxVblLAz3g/AA6JAfaDAX6fHMZ2sKV1Mz//Z";

// Transfer syntax -> a small frame in it (32 x 32, 12 of 16 bits, unsigned, made with
// OpenJPEG). Uncompressed syntaxes need no codec, so no warm-up.
const WARM_UP = {
  "1.2.840.10008.1.2.4.90": J2K_32X32,
  "1.2.840.10008.1.2.4.91": J2K_32X32,
};

const early = []; // workers started before the loader asked for them
const keptProxies = []; // see the comment at the top
// Copied into the page state (window.osteolensViewer.decoders) for tests and timings.
export const decoderStats = { early: 0, taken: 0, created: 0, warmUp: null, warmUpMs: null };
// The warm-up frame's first and last pixel values (32 x 32 ramp: 100 + 3 k).
const WARM_UP_PIXELS = [100, 3169];

/** How many decode workers: the config's, else 2 to 4 by core count. */
export function decodeWorkerCount(config) {
  // Two even on a 2-core machine: fetch and decode then overlap (measured: 500
  // uncompressed slices cached about 20 % faster than with one).
  return config.decode_workers || Math.min(4, Math.max(2, (navigator.hardwareConcurrency || 2) - 1));
}

function newWorker() {
  // The same URL the loader's own init uses: the worker entry sits beside the chunks.
  return new Worker(new URL("./decodeImageFrameWorker.js", import.meta.url), { type: "module" });
}

function openingSeries(config) {
  return config.series?.find((s) => s.series_uid === config.initial_series_uid) || config.series?.[0];
}

function warmUpFrame(base64) {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const imageFrame = {
    rows: 32,
    columns: 32,
    samplesPerPixel: 1,
    bitsAllocated: 16,
    bitsStored: 12,
    highBit: 11,
    pixelRepresentation: 0,
    photometricInterpretation: "MONOCHROME2",
  };
  return { imageFrame, pixelData: bytes };
}

/** Start the decode workers now (boot.js); a no-op when the page has no series. */
export function startDecodeWorkers(config) {
  if (!config?.series?.length || early.length) return;
  const sample = WARM_UP[openingSeries(config)?.transfer_syntax];
  const warmUps = [];
  for (let i = 0; i < decodeWorkerCount(config); i++) {
    const worker = newWorker();
    early.push(worker);
    decoderStats.early += 1;
    if (!sample) continue;
    const api = Comlink.wrap(worker);
    keptProxies.push(api);
    const { imageFrame, pixelData } = warmUpFrame(sample);
    warmUps.push(
      api.decodeTask({
        imageFrame,
        transferSyntax: openingSeries(config).transfer_syntax,
        pixelData,
        decodeConfig: { wasmBasePath: config.wasm_base_path },
        // Raw stored values back: the post-processing step reads these options.
        options: { preScale: { enabled: false } },
      }),
    );
  }
  if (!warmUps.length) return;
  decoderStats.warmUp = "running";
  Promise.all(warmUps).then(
    (frames) => {
      const right = frames.every((f) => f.pixelData?.[0] === WARM_UP_PIXELS[0] && f.pixelData?.[1023] === WARM_UP_PIXELS[1]);
      decoderStats.warmUp = right ? "ok" : "wrong pixels";
      decoderStats.warmUpMs = Math.round(performance.now());
    },
    // A failed warm-up only means the first real decode pays for the codec itself.
    (err) => {
      decoderStats.warmUp = `failed: ${err?.message || err}`;
    },
  );
}

/** The loader's worker factory: the workers boot.js started first, then new ones. */
export function takeDecodeWorker() {
  const worker = early.shift();
  if (worker) decoderStats.taken += 1;
  else decoderStats.created += 1;
  return worker || newWorker();
}
