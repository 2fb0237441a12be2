// Drag-and-drop upload with a progress bar. Folders are walked with the
// webkitGetAsEntry API so a dropped DICOM folder arrives as its files.
(function () {
  "use strict";
  const form = document.getElementById("upload-form");
  const zone = document.getElementById("dropzone");
  const bar = document.getElementById("upload-progress");
  const statusLine = document.getElementById("upload-status");
  const chosen = document.getElementById("chosen");
  let files = [];

  function show() {
    const bytes = files.reduce((sum, f) => sum + f.size, 0);
    chosen.textContent = files.length ? `${files.length} file(s), ${(bytes / 1048576).toFixed(1)} MB` : "";
  }

  function readEntry(entry) {
    return new Promise((resolve) => {
      if (entry.isFile) {
        entry.file((f) => resolve([f]), () => resolve([]));
      } else if (entry.isDirectory) {
        const reader = entry.createReader();
        const all = [];
        const next = () => reader.readEntries(async (batch) => {
          if (!batch.length) {
            const nested = await Promise.all(all.map(readEntry));
            resolve(nested.flat());
          } else {
            all.push(...batch);
            next();
          }
        }, () => resolve([]));
        next();
      } else {
        resolve([]);
      }
    });
  }

  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", async (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    const entries = [...e.dataTransfer.items].map((i) => i.webkitGetAsEntry && i.webkitGetAsEntry()).filter(Boolean);
    files = entries.length ? (await Promise.all(entries.map(readEntry))).flat() : [...e.dataTransfer.files];
    show();
  });
  for (const id of ["pick-files", "pick-folder"]) {
    document.getElementById(id).addEventListener("change", (e) => { files = [...e.target.files]; show(); });
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!files.length) { statusLine.textContent = "Choose at least one file, folder or zip archive."; return; }
    const data = new FormData();
    data.append("csrfmiddlewaretoken", form.querySelector("[name=csrfmiddlewaretoken]").value);
    for (const f of files) data.append("files", f, f.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    bar.hidden = false;
    xhr.upload.onprogress = (p) => { if (p.lengthComputable) bar.value = (100 * p.loaded) / p.total; };
    xhr.upload.onload = () => { statusLine.textContent = "Uploaded; de-identifying and storing…"; };
    xhr.onload = () => {
      let answer = {};
      try { answer = JSON.parse(xhr.responseText); } catch (err) { answer = {}; }
      if (xhr.status === 200 && answer.next) {
        window.location.assign(answer.next);
      } else {
        statusLine.textContent = answer.error || `Upload failed (HTTP ${xhr.status}).`;
        statusLine.classList.add("error");
        bar.hidden = true;
      }
    };
    xhr.onerror = () => { statusLine.textContent = "The upload was interrupted; nothing was stored. Try again."; };
    statusLine.textContent = "Uploading…";
    xhr.send(data);
  });
})();
