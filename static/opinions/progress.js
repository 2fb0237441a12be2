// Live progress without reloads: poll the status endpoint, move the bar, and
// reload once when the opinion is recorded so the result renders server-side.
(function () {
  "use strict";
  const card = document.getElementById("progress-card");
  if (!card) return;
  const url = card.dataset.statusUrl;
  const bar = document.getElementById("analysis-progress");
  const stageLine = document.getElementById("analysis-stage");
  const failure = document.getElementById("failure");
  const reason = document.getElementById("failure-reason");
  const order = [...document.querySelectorAll("#stages li")].map((li) => li.dataset.stage);

  async function poll() {
    let info;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      info = await response.json();
    } catch (err) {
      setTimeout(poll, 2000);
      return;
    }
    stageLine.textContent = info.stage;
    const index = order.indexOf(info.stage);
    bar.value = index >= 0 ? Math.max(info.fraction || 0, index / (order.length - 1)) : info.fraction || 0;
    document.querySelectorAll("#stages li").forEach((li, i) => {
      li.classList.toggle("done", index >= 0 && i < index);
      li.classList.toggle("current", i === index);
    });
    if (info.status === "done") {
      window.location.reload();
    } else if (info.status === "failed") {
      failure.hidden = false;
      reason.textContent = info.error || "The analysis failed.";
    } else {
      setTimeout(poll, 700);
    }
  }
  poll();
})();
