// Attachments of the chat composer (state: AttachState in state/attachments.py).
// Files come from the "Attach files" chooser, from a drop on the composer, or pasted into the message box. Each
// is uploaded with a plain POST to /api/files (the browser sends the HttpOnly session cookie; the server checks it
// before reading the body and decides the type from the content). What happens is queued and handed to the
// Reflex state by clicking the hidden #attach-sync button, whose click runs window.soloAttach.take().
(() => {
  if (window.soloAttach) return;
  let queue = [];
  let counter = 0;
  const report = (event) => {
    queue.push(event);
    const sync = document.getElementById("attach-sync");
    if (sync) sync.click();
  };
  const maxBytes = () => Number(document.getElementById("attach-input")?.dataset.maxBytes || 0);
  const upload = (file) => {
    const tmp = "t" + Date.now().toString(36) + "-" + counter++;
    const name = file.name || "pasted-image." + ((file.type || "image/png").split("/")[1] || "png");
    report({ tmp, phase: "start", name, size: file.size });
    const max = maxBytes();
    if (max && file.size > max) {
      report({ tmp, phase: "error", error: `Larger than ${Math.floor(max / 1048576)} MB, the upload limit: not attached.` });
      return;
    }
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/files?name=" + encodeURIComponent(name));
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.onload = () => {
      if (xhr.status === 200 || xhr.status === 201) {
        try {
          report({ tmp, phase: "done", file: JSON.parse(xhr.responseText).file });
        } catch (err) {
          report({ tmp, phase: "error", error: "The server's answer could not be read. Try again." });
        }
      } else {
        report({ tmp, phase: "error", error: xhr.responseText || `The upload failed (HTTP ${xhr.status}).` });
      }
    };
    xhr.onerror = () => report({ tmp, phase: "error", error: "The upload failed (connection lost). Try again." });
    xhr.send(file);
  };
  const uploadAll = (files) => {
    for (const file of Array.from(files || [])) upload(file);
  };
  document.addEventListener("change", (e) => {
    if (e.target && e.target.id === "attach-input") {
      uploadAll(e.target.files);
      e.target.value = ""; // the same file can be chosen again
    }
  });
  const composer = (target) => target && target.closest && target.closest("#composer");
  const hasFiles = (e) => e.dataTransfer && Array.from(e.dataTransfer.types || []).includes("Files");
  document.addEventListener("dragover", (e) => {
    const box = composer(e.target);
    if (box && hasFiles(e)) {
      e.preventDefault();
      box.dataset.drop = "yes";
    }
  });
  document.addEventListener("dragleave", (e) => {
    const box = composer(e.target);
    if (box && !box.contains(e.relatedTarget)) delete box.dataset.drop;
  });
  document.addEventListener("drop", (e) => {
    const box = composer(e.target);
    if (!box || !hasFiles(e)) return;
    e.preventDefault();
    delete box.dataset.drop;
    uploadAll(e.dataTransfer.files);
  });
  document.addEventListener("paste", (e) => {
    if (!e.target || e.target.id !== "message-input" || !e.clipboardData) return;
    const files = Array.from(e.clipboardData.files || []).filter((f) => f.type.startsWith("image/"));
    if (!files.length) return; // text is pasted as usual
    e.preventDefault();
    uploadAll(files);
  });
  window.soloAttach = {
    take() {
      const events = queue;
      queue = [];
      return events;
    },
  };
})();
