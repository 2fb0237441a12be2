// A plain 2D canvas above each Cornerstone viewport. It is redrawn on every
// IMAGE_RENDERED event and maps everything through viewport.worldToCanvas, so it follows
// scroll, zoom, pan, flips and the CPU renderer alike (no WebGL needed).
import * as cs from "@cornerstonejs/core";
import { JET_LUT } from "./colormap.js";

const sub = (a, b) => a.map((v, i) => v - b[i]);
const dot = (a, b) => a.reduce((s, v, i) => s + v * b[i], 0);
const norm = (a) => Math.hypot(...a);

// Heat-map slices become small RGBA canvases once and are reused while scrolling.
export class HeatmapLayer {
  constructor(volume) {
    this.volume = volume;
    this.slices = new Map();
  }

  canvasFor(k) {
    if (k < 0 || k >= this.volume.slices) return null;
    if (!this.slices.has(k)) {
      const { rows, cols, dtype } = this.volume;
      const values = this.volume.slice(k);
      const scale = dtype === "float32" ? 255 : 1; // float32 maps are in [0, 1]
      const rgba = new Uint8ClampedArray(rows * cols * 4);
      for (let i = 0; i < values.length; i++) {
        const v = Math.max(0, Math.min(255, Math.round(values[i] * scale)));
        rgba.set(JET_LUT.subarray(v * 4, v * 4 + 4), i * 4);
      }
      const canvas = document.createElement("canvas");
      canvas.width = cols;
      canvas.height = rows;
      canvas.getContext("2d").putImageData(new ImageData(rgba, cols, rows), 0, 0);
      this.slices.set(k, canvas);
    }
    return this.slices.get(k);
  }
}

// Size the overlay's backing store to the element (CSS px x devicePixelRatio).
function prepare(canvas) {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.round(canvas.clientWidth * dpr);
  const h = Math.round(canvas.clientHeight * dpr);
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, w, h);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

// Draws heat-map slice `layer.canvasFor(k)` with the affine map image pixel -> canvas.
// Pixel (i, j) of the DICOM has its centre at imageToWorldCoords([i, j]); the 2D canvas
// pixel covers [i, i+1), hence the half-pixel shift.
function drawHeatmap(ctx, viewport, imageId, sliceCanvas, opacity) {
  const toCanvas = (x, y) => viewport.worldToCanvas(cs.utilities.imageToWorldCoords(imageId, [x, y]));
  const { width: cols, height: rows } = sliceCanvas;
  const p0 = toCanvas(-0.5, -0.5);
  const p1 = toCanvas(cols - 0.5, -0.5);
  const p2 = toCanvas(-0.5, rows - 0.5);
  ctx.save();
  ctx.globalAlpha = opacity;
  ctx.imageSmoothingEnabled = true;
  ctx.transform((p1[0] - p0[0]) / cols, (p1[1] - p0[1]) / cols, (p2[0] - p0[0]) / rows, (p2[1] - p0[1]) / rows, p0[0], p0[1]);
  ctx.drawImage(sliceCanvas, 0, 0);
  ctx.restore();
}

function drawMarker(ctx, viewport, marker, sliceSpacing) {
  const camera = viewport.getCamera();
  // Only on (or next to) the slice that contains the point: 1.5 slices either side.
  // A single image (radiograph) is a projection: the marker always shows.
  const distance = Math.abs(dot(sub(marker.world, camera.focalPoint), camera.viewPlaneNormal));
  if (sliceSpacing && distance > 1.5 * sliceSpacing) return;
  const [x, y] = viewport.worldToCanvas(marker.world);
  ctx.save();
  ctx.strokeStyle = "#ffe600";
  ctx.fillStyle = "#ffe600";
  ctx.lineWidth = 2;
  ctx.beginPath();
  ctx.arc(x, y, 10, 0, 2 * Math.PI);
  for (const [dx, dy] of [[-18, 0], [18, 0], [0, -18], [0, 18]]) {
    ctx.moveTo(x + dx * 0.6, y + dy * 0.6);
    ctx.lineTo(x + dx, y + dy);
  }
  ctx.stroke();
  if (marker.label) {
    ctx.font = "13px system-ui, sans-serif";
    ctx.fillText(marker.label, x + 14, y - 14);
  }
  ctx.restore();
}

// Scale bar: pick a round length that is 60-140 canvas px long at the current zoom.
function drawScaleBar(ctx, viewport, hasSpacing) {
  const { clientWidth: w, clientHeight: h } = viewport.canvas;
  const a = viewport.canvasToWorld([0, h / 2]);
  const b = viewport.canvasToWorld([100, h / 2]);
  const mmPerPx = norm(sub(b, a)) / 100;
  if (!Number.isFinite(mmPerPx) || mmPerPx <= 0) return;
  const lengths = [1, 2, 5, 10, 20, 50, 100, 200, 500];
  const length = lengths.find((l) => l / mmPerPx >= 60) || lengths[lengths.length - 1];
  const px = length / mmPerPx;
  const x1 = w - 16;
  const y = h - 16;
  ctx.save();
  ctx.strokeStyle = "#fff";
  ctx.fillStyle = "#fff";
  ctx.lineWidth = 2;
  ctx.beginPath();
  ctx.moveTo(x1 - px, y - 5);
  ctx.lineTo(x1 - px, y);
  ctx.lineTo(x1, y);
  ctx.lineTo(x1, y - 5);
  ctx.stroke();
  ctx.font = "12px system-ui, sans-serif";
  ctx.textAlign = "right";
  ctx.fillText(hasSpacing ? `${length} mm` : `${length} px (no pixel spacing)`, x1, y - 8);
  ctx.restore();
}

// Patient-axis letters for a screen direction (DICOM LPS: +x left, +y posterior, +z head).
function orientationLetters(direction) {
  const names = [["R", "L"], ["A", "P"], ["F", "H"]];
  const order = [0, 1, 2].sort((i, j) => Math.abs(direction[j]) - Math.abs(direction[i]));
  let letters = "";
  for (const axis of order) {
    if (Math.abs(direction[axis]) < 0.25) break;
    letters += names[axis][direction[axis] > 0 ? 1 : 0];
  }
  return letters;
}

export function updateOrientation(container, viewport) {
  const { clientWidth: w, clientHeight: h } = viewport.canvas;
  const centre = viewport.canvasToWorld([w / 2, h / 2]);
  const unit = (p) => {
    const d = sub(viewport.canvasToWorld(p), centre);
    const n = norm(d) || 1;
    return d.map((v) => v / n);
  };
  const right = unit([w / 2 + 50, h / 2]);
  const down = unit([w / 2, h / 2 + 50]);
  const set = (side, dir) => {
    const el = container.querySelector(`.olv-orient-${side}`);
    if (el) el.textContent = orientationLetters(dir);
  };
  set("right", right);
  set("left", right.map((v) => -v));
  set("bottom", down);
  set("top", down.map((v) => -v));
}

export function redrawOverlay({ canvas, viewport, imageId, sliceIndex, heatmap, opacity, marker, sliceSpacing, hasSpacing }) {
  const ctx = prepare(canvas);
  if (heatmap && imageId != null) {
    const slice = heatmap.canvasFor(sliceIndex);
    if (slice) drawHeatmap(ctx, viewport, imageId, slice, opacity);
  }
  if (marker) drawMarker(ctx, viewport, marker, sliceSpacing);
  drawScaleBar(ctx, viewport, hasSpacing);
}
