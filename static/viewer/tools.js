// Cornerstone tools: one tool group per layout (stack, MPR). The primary mouse button
// carries whichever tool the toolbar selects; middle = pan, right = zoom, wheel = scroll
// stay bound so a reader never has to switch tools to navigate.
import * as cst from "@cornerstonejs/tools";

const { MouseBindings } = cst.Enums;

export const TOOLS = {
  windowLevel: cst.WindowLevelTool.toolName,
  pan: cst.PanTool.toolName,
  zoom: cst.ZoomTool.toolName,
  length: cst.LengthTool.toolName,
  angle: cst.AngleTool.toolName,
};

export function registerTools() {
  for (const Tool of [cst.WindowLevelTool, cst.PanTool, cst.ZoomTool, cst.StackScrollTool, cst.LengthTool, cst.AngleTool]) {
    cst.addTool(Tool);
  }
}

export function createToolGroup(groupId) {
  const group = cst.ToolGroupManager.createToolGroup(groupId);
  for (const name of [...Object.values(TOOLS), cst.StackScrollTool.toolName]) group.addTool(name);
  group.setToolActive(TOOLS.windowLevel, { bindings: [{ mouseButton: MouseBindings.Primary }] });
  group.setToolActive(TOOLS.pan, { bindings: [{ mouseButton: MouseBindings.Auxiliary }] });
  group.setToolActive(TOOLS.zoom, { bindings: [{ mouseButton: MouseBindings.Secondary }] });
  group.setToolActive(cst.StackScrollTool.toolName, { bindings: [{ mouseButton: MouseBindings.Wheel }] });
  // Passive: existing measurements stay visible and editable.
  group.setToolPassive(TOOLS.length);
  group.setToolPassive(TOOLS.angle);
  return group;
}

export function setPrimaryTool(group, toolName) {
  const current = group.getActivePrimaryMouseButtonTool();
  if (current === toolName) return;
  if (current) group.setToolPassive(current);
  group.setToolActive(toolName, { bindings: [{ mouseButton: MouseBindings.Primary }] });
}
