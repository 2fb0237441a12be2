// Reading page: mark a lesion (rectangle or polygon) on the key image, and a timer.
// Coordinates are stored in the key image's own pixels (data-rows / data-columns), not
// screen pixels, so the server can score the region against masks of the original image.
(function () {
  "use strict";
  const stage = document.getElementById("stage");
  const input = document.getElementById("id_region");
  const status = document.getElementById("region-status");
  const state = { tool: "rect", region: null, draft: [], dragging: false };
  window.teachingRead = state;

  if (stage && input) {
    const img = document.getElementById("key-image");
    const canvas = document.getElementById("region-canvas");
    const ctx = canvas.getContext("2d");
    const rows = Number(stage.dataset.rows);
    const columns = Number(stage.dataset.columns);

    const scale = () => columns / img.clientWidth; // image pixels per screen pixel
    function toImage(event) {
      const box = canvas.getBoundingClientRect();
      const s = scale();
      const x = Math.min(Math.max(event.clientX - box.left, 0), box.width) * s;
      const y = Math.min(Math.max(event.clientY - box.top, 0), box.height) * s;
      return [Math.round(x * 100) / 100, Math.round(y * 100) / 100];
    }
    function resize() {
      canvas.width = img.clientWidth;
      canvas.height = img.clientHeight;
      draw();
    }
    function draw() {
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      const s = 1 / scale();
      const pts = state.region ? state.region.points : state.draft;
      const shape = state.region ? state.region.shape : state.tool;
      if (!pts.length) return;
      ctx.strokeStyle = "#f04438";
      ctx.fillStyle = "rgba(240, 68, 56, 0.15)";
      ctx.lineWidth = 2;
      ctx.beginPath();
      if (shape === "rect" && pts.length === 2) {
        const [[x0, y0], [x1, y1]] = pts;
        ctx.rect(x0 * s, y0 * s, (x1 - x0) * s, (y1 - y0) * s);
      } else {
        pts.forEach(([x, y], i) => (i ? ctx.lineTo(x * s, y * s) : ctx.moveTo(x * s, y * s)));
        if (state.region) ctx.closePath();
      }
      ctx.fill();
      ctx.stroke();
    }
    function commitRegion(shape, points) {
      state.region = { shape: shape, points: points };
      state.draft = [];
      input.value = JSON.stringify(state.region);
      status.textContent = shape === "rect" ? "Rectangle marked." : "Polygon marked (" + points.length + " points).";
      draw();
    }
    function clear() {
      state.region = null;
      state.draft = [];
      input.value = "";
      status.textContent = "No region marked.";
      draw();
    }

    canvas.addEventListener("pointerdown", (event) => {
      event.preventDefault();
      if (state.region) clear();
      const p = toImage(event);
      if (state.tool === "rect") {
        state.dragging = true;
        state.draft = [p, p];
        canvas.setPointerCapture(event.pointerId);
      } else {
        state.draft.push(p);
        status.textContent = "Polygon: " + state.draft.length + " points; double-click to close.";
      }
      draw();
    });
    canvas.addEventListener("pointermove", (event) => {
      if (state.dragging) {
        state.draft[1] = toImage(event);
        draw();
      }
    });
    canvas.addEventListener("pointerup", (event) => {
      if (!state.dragging) return;
      state.dragging = false;
      state.draft[1] = toImage(event);
      const [[x0, y0], [x1, y1]] = state.draft;
      if (Math.abs(x1 - x0) < 2 || Math.abs(y1 - y0) < 2) {
        clear();
        return;
      }
      commitRegion("rect", [[Math.min(x0, x1), Math.min(y0, y1)], [Math.max(x0, x1), Math.max(y0, y1)]]);
    });
    canvas.addEventListener("dblclick", (event) => {
      event.preventDefault();
      // The double-click's two pointerdowns added the same point twice.
      const pts = state.draft.filter((p, i, a) => i === 0 || p[0] !== a[i - 1][0] || p[1] !== a[i - 1][1]);
      if (state.tool === "polygon" && pts.length >= 3) commitRegion("polygon", pts);
    });
    document.querySelectorAll(".t-tool").forEach((button) => {
      button.addEventListener("click", () => {
        if (button.dataset.tool === "clear") return clear();
        state.tool = button.dataset.tool;
        state.draft = [];
        document.querySelectorAll(".t-tool[data-tool]").forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
        draw();
      });
    });
    if (img.complete) resize();
    img.addEventListener("load", resize);
    window.addEventListener("resize", resize);
    if (input.value) {
      try {
        const saved = JSON.parse(input.value);
        if (saved && saved.points) commitRegion(saved.shape, saved.points);
      } catch (e) {
        input.value = "";
      }
    }
  }

  // The timer counts down locally and re-syncs with the server, which owns the clock.
  const timer = document.getElementById("timer");
  if (timer) {
    let remaining = Number(timer.dataset.remaining);
    const show = () => {
      timer.textContent = remaining > 0 ? Math.ceil(remaining) + " s" : "Time is up: commit now";
      timer.classList.toggle("t-late", remaining <= 0);
    };
    show();
    setInterval(() => {
      remaining -= 1;
      show();
    }, 1000);
    setInterval(() => {
      fetch(timer.dataset.state, { credentials: "same-origin" })
        .then((r) => r.json())
        .then((s) => {
          if (s.remaining_s !== null) remaining = s.remaining_s;
          show();
        })
        .catch(() => {});
    }, 15000);
  }
})();
