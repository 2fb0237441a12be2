// Overlay volumes (labelmaps, heat-maps) travel as a JSON header plus one raw binary:
//   GET <url>        -> {"shape": [slices, rows, cols], "dtype": "uint8"|"float32",
//                        "data_url": "<URL of the raw little-endian array>"}
// Slice k of the array lies on image_ids[k] of the referenced series (same sorted
// order), row-major like the DICOM pixel data. One request per overlay, no decoder.
export async function fetchOverlayVolume(url) {
  const headerResponse = await fetch(url, { credentials: "same-origin" });
  if (!headerResponse.ok) throw new Error(`overlay header ${url}: HTTP ${headerResponse.status}`);
  const header = await headerResponse.json();
  const [slices, rows, cols] = header.shape;
  const dataUrl = new URL(header.data_url, new URL(url, location.href)).toString();
  const dataResponse = await fetch(dataUrl, { credentials: "same-origin" });
  if (!dataResponse.ok) throw new Error(`overlay data ${dataUrl}: HTTP ${dataResponse.status}`);
  const buffer = await dataResponse.arrayBuffer();
  const Typed = header.dtype === "float32" ? Float32Array : Uint8Array;
  const expected = slices * rows * cols;
  if (buffer.byteLength !== expected * Typed.BYTES_PER_ELEMENT) {
    throw new Error(`overlay ${url}: ${buffer.byteLength} bytes for shape ${header.shape} ${header.dtype}`);
  }
  const data = new Typed(buffer);
  return {
    slices,
    rows,
    cols,
    dtype: header.dtype,
    slice(k) {
      return data.subarray(k * rows * cols, (k + 1) * rows * cols);
    },
  };
}
