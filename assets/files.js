// Files page (app/pages/files.py): uploads chosen or dropped files with plain POSTs to /api/files (the browser
// sends the HttpOnly session cookie; the server checks it before reading the body), three at a time, with
// upload progress. What happens is queued and handed to the Reflex state by clicking the hidden
// "#files-events" button (its click takes the queue: FilesState.upload_events).
(() => {
  if (window.soloFiles) return;
  const PARALLEL = 3;
  const PROGRESS_MS = 400;
  const queue = []; // events for the state
  const waiting = []; // [key, file] not started yet
  const running = new Set(); // keys being sent
  let seq = 0;

  // Deferred: the button's click runs take() at once, and the caller has more to queue first.
  let pending = false;
  const notify = () => {
    if (pending) return;
    pending = true;
    setTimeout(() => {
      pending = false;
      const button = document.getElementById("files-events");
      if (button) button.click();
    }, 0);
  };
  const push = (event) => {
    queue.push(event);
    notify();
  };

  const send = (key, file) => {
    running.add(key);
    const xhr = new XMLHttpRequest();
    let last = 0;
    const end = (event) => {
      running.delete(key);
      push(event);
      next();
    };
    xhr.open("POST", "/api/files?name=" + encodeURIComponent(file.name));
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.upload.onprogress = (e) => {
      const now = Date.now();
      if (!e.lengthComputable || now - last < PROGRESS_MS) return;
      last = now;
      push({ type: "progress", key, pct: Math.floor((e.loaded * 100) / e.total) });
    };
    xhr.onload = () => {
      if (xhr.status === 200 || xhr.status === 201) {
        try {
          const answer = JSON.parse(xhr.responseText);
          end({ type: "done", key, name: file.name, file: answer.file, new: answer.new });
        } catch (err) {
          end({ type: "error", key, error: "The server's answer could not be read. Reload the page." });
        }
      } else {
        end({ type: "error", key, error: xhr.responseText || `The upload failed (HTTP ${xhr.status}). Try again.` });
      }
    };
    xhr.onerror = () => end({ type: "error", key, error: "The upload failed (connection lost). Try again." });
    xhr.send(file);
  };

  const next = () => {
    while (running.size < PARALLEL && waiting.length) {
      const [key, file] = waiting.shift();
      send(key, file);
    }
  };

  const upload = (files, max) => {
    for (const file of files) {
      seq += 1;
      const key = `u${Date.now().toString(36)}${seq}`;
      push({ type: "start", key, name: file.name });
      if (max && file.size > max) {
        push({
          type: "error",
          key,
          error: `The file is larger than ${Math.floor(max / 1048576)} MB, the upload limit: nothing was stored.`,
        });
      } else if (file.size === 0) {
        push({ type: "error", key, error: "The file is empty: nothing was stored." });
      } else {
        waiting.push([key, file]);
      }
    }
    next();
  };

  const input = () => document.getElementById("files-input");
  const maxBytes = () => Number((input() && input().dataset.maxBytes) || 0);

  document.addEventListener("change", (e) => {
    if (!e.target || e.target.id !== "files-input") return;
    const files = Array.from(e.target.files || []);
    e.target.value = ""; // the same files can be chosen again
    if (files.length) upload(files, maxBytes());
  });

  // Drag and drop anywhere on the Files page.
  const onFilesPage = () => !!document.getElementById("files-drop");
  const hasFiles = (e) => e.dataTransfer && Array.from(e.dataTransfer.types || []).includes("Files");
  let depth = 0;
  const dragging = (on) => document.body.classList.toggle("files-dragging", on);
  document.addEventListener("dragenter", (e) => {
    if (!onFilesPage() || !hasFiles(e)) return;
    depth += 1;
    dragging(true);
  });
  document.addEventListener("dragleave", (e) => {
    if (!onFilesPage() || !hasFiles(e)) return;
    depth = Math.max(0, depth - 1);
    if (!depth) dragging(false);
  });
  document.addEventListener("dragover", (e) => {
    if (!onFilesPage() || !hasFiles(e)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = "copy";
  });
  document.addEventListener("drop", (e) => {
    if (!onFilesPage() || !hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    dragging(false);
    const files = Array.from(e.dataTransfer.files || []);
    if (files.length) upload(files, maxBytes());
  });

  window.soloFiles = {
    // The events since the last call, and the uploads still in flight (the state drops any other row it
    // shows as uploading: its upload ended with a page reload).
    take() {
      const active = [...running, ...waiting.map(([key]) => key)];
      return { events: queue.splice(0, queue.length), active };
    },
    // The preview opens at a page: scroll it into view once the dialog has drawn it.
    scrollTo(anchor) {
      let tries = 0;
      const go = () => {
        const el = document.getElementById(anchor);
        if (el) {
          el.scrollIntoView({ block: "start" });
          return;
        }
        tries += 1;
        if (tries < 60) setTimeout(go, 50);
      };
      go();
    },
    // Closing the preview leaves ?file=&page= (a reload would open it again).
    clearPreviewUrl() {
      const url = new URL(window.location.href);
      if (!url.searchParams.has("file")) return;
      url.searchParams.delete("file");
      url.searchParams.delete("page");
      window.history.replaceState(window.history.state, "", url.pathname + url.search + url.hash);
    },
  };
})();
