// Labelmap overlay through Cornerstone's segmentation state (GPU renderer only).
// The labelmap arrives as a uint8 overlay volume (see volumeio.js) on the grid of its
// series; voxel value = structure value = Cornerstone segment index.
import * as cs from "@cornerstonejs/core";
import * as cst from "@cornerstonejs/tools";

const { SegmentationRepresentations } = cst.Enums;

// Needs every instance of the series loaded: with wadouri the geometry of an image is
// only known once its file has been fetched.
export function createLabelmap(segmentationId, series, volume, structures) {
  if (volume.slices !== series.image_ids.length) {
    throw new Error(`labelmap has ${volume.slices} slices, series ${series.image_ids.length}`);
  }
  const images = cs.imageLoader.createAndCacheDerivedLabelmapImages(series.image_ids);
  images.forEach((image, k) => {
    const values = volume.slice(k);
    const voxels = image.voxelManager;
    for (let i = 0; i < values.length; i++) {
      if (values[i]) voxels.setAtIndex(i, values[i]);
    }
  });
  cst.segmentation.addSegmentations([
    {
      segmentationId,
      representation: {
        type: SegmentationRepresentations.Labelmap,
        data: { imageIds: images.map((image) => image.imageId) },
      },
      // Every structure must be declared: Cornerstone registers only segment 1 by default,
      // and per-segment colour and visibility silently skip undeclared segments.
      config: {
        label: "Segmentation",
        segments: Object.fromEntries(structures.map((s) => [s.value, { label: s.name }])),
      },
    },
  ]);
}

export async function showLabelmap(viewportId, segmentationId, structures) {
  await cst.segmentation.addLabelmapRepresentationToViewport(viewportId, [{ segmentationId }]);
  for (const s of structures) {
    cst.segmentation.config.color.setSegmentIndexColor(viewportId, segmentationId, s.value, [...s.color.slice(0, 3), 255]);
  }
}

export function setStructureVisible(viewportId, segmentationId, value, visible) {
  cst.segmentation.config.visibility.setSegmentIndexVisibility(
    viewportId,
    { segmentationId, type: SegmentationRepresentations.Labelmap },
    value,
    visible,
  );
}
