// MPR: three orthographic VolumeViewports over one streamed volume of a CT series.
import * as cs from "@cornerstonejs/core";

export const MPR_VIEWPORTS = [
  { id: "axial", orientation: cs.Enums.OrientationAxis.AXIAL },
  { id: "sagittal", orientation: cs.Enums.OrientationAxis.SAGITTAL },
  { id: "coronal", orientation: cs.Enums.OrientationAxis.CORONAL },
];

// Requires the series' instances in the cache first (their metadata builds the volume).
export async function loadVolume(series) {
  const volumeId = `cornerstoneStreamingImageVolume:olv-${series.series_uid}`;
  let volume = cs.cache.getVolume(volumeId);
  if (!volume) {
    volume = await cs.volumeLoader.createAndCacheVolume(volumeId, { imageIds: series.image_ids });
    volume.load();
  }
  return volumeId;
}

export function enableMprViewports(engine, elements) {
  for (const { id, orientation } of MPR_VIEWPORTS) {
    engine.enableElement({
      viewportId: id,
      type: cs.Enums.ViewportType.ORTHOGRAPHIC,
      element: elements[id],
      defaultOptions: { orientation, background: [0, 0, 0] },
    });
  }
}

export async function showVolume(engine, volumeId, voiRange) {
  const ids = MPR_VIEWPORTS.map((v) => v.id);
  await cs.setVolumesForViewports(engine, [{ volumeId }], ids);
  for (const id of ids) {
    const viewport = engine.getViewport(id);
    if (voiRange) viewport.setProperties({ voiRange });
    viewport.render();
  }
}
