// "Jet" colour map for saliency maps: the same stops feed the pixel lookup and the CSS colour bar.
const STOPS = [
  [0.0, [0, 0, 143]],
  [0.125, [0, 0, 255]],
  [0.375, [0, 255, 255]],
  [0.625, [255, 255, 0]],
  [0.875, [255, 0, 0]],
  [1.0, [128, 0, 0]],
];

function colourAt(t) {
  for (let i = 1; i < STOPS.length; i++) {
    const [t1, c1] = STOPS[i];
    if (t <= t1) {
      const [t0, c0] = STOPS[i - 1];
      const f = (t - t0) / (t1 - t0);
      return c0.map((v, j) => Math.round(v + f * (c1[j] - v)));
    }
  }
  return STOPS[STOPS.length - 1][1];
}

// 256-entry RGBA table; alpha ramps up over the lowest fifth so that near-zero saliency
// leaves the anatomy visible instead of tinting the whole image blue.
export const JET_LUT = (() => {
  const lut = new Uint8ClampedArray(256 * 4);
  for (let i = 0; i < 256; i++) {
    const t = i / 255;
    const [r, g, b] = colourAt(t);
    lut.set([r, g, b, Math.round(255 * Math.min(1, t / 0.2))], i * 4);
  }
  return lut;
})();

export function cssGradient() {
  return `linear-gradient(to top, ${STOPS.map(([t, c]) => `rgb(${c.join(",")}) ${t * 100}%`).join(", ")})`;
}
