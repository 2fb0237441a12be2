// Everything that needs @cornerstonejs/tools. It is a separate chunk, imported after the
// first image is on screen: the tools package is about a quarter of the bundle, and
// evaluating it before the first paint delays the first image.
import * as cs from "@cornerstonejs/core";
import * as cst from "@cornerstonejs/tools";
import { registerTools } from "./tools.js";

export { createToolGroup, setPrimaryTool, TOOLS } from "./tools.js";
export { createLabelmap, setStructureVisible, showLabelmap } from "./labelmap.js";

export function initTools(onAnnotationCompleted) {
  cst.init();
  // Tools attach their mouse listeners on ELEMENT_ENABLED; elements enabled before this
  // chunk arrived (the first stack) are attached by hand, with the same event detail.
  for (const { viewport, renderingEngine } of cs.getEnabledElements()) {
    cst.store.addEnabledElement({ detail: { element: viewport.element, viewportId: viewport.id, renderingEngineId: renderingEngine.id } });
  }
  registerTools();
  cs.eventTarget.addEventListener(cst.Enums.Events.ANNOTATION_COMPLETED, (e) => onAnnotationCompleted(e.detail.annotation));
}

export function removeLabelmap(viewportId, segmentationId) {
  cst.segmentation.removeLabelmapRepresentation(viewportId, segmentationId, true);
}

export function hasLabelmap(viewportId, segmentationId) {
  return cst.segmentation.state.getSegmentationRepresentations(viewportId, { segmentationId }).length > 0;
}
