// Chat import: uploads the chosen file with a plain POST to /api/import (the browser sends the HttpOnly
// session cookie; the server checks it before reading the body), shows upload progress, then hands the
// staged file's id to the Reflex state by clicking the hidden "Upload finished" button.
(() => {
  if (window.soloImport) return;
  let result = null;
  const show = (text) => {
    const out = document.getElementById("import-upload-progress");
    if (out) out.textContent = text;
  };
  const finish = (value) => {
    show("");
    result = value;
    const done = document.getElementById("import-staged");
    if (done) done.click();
  };
  const upload = (input) => {
    const file = input.files && input.files[0];
    input.value = ""; // the same file can be chosen again
    if (!file) return;
    const max = Number(input.dataset.maxBytes || 0);
    if (max && file.size > max) {
      finish({ error: `${file.name} is larger than ${Math.floor(max / 1048576)} MB: nothing was imported.` });
      return;
    }
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/import?name=" + encodeURIComponent(file.name));
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) show(`Uploading ${file.name}: ${Math.floor((e.loaded * 100) / e.total)}%`);
    };
    xhr.onload = () => {
      if (xhr.status === 200) {
        try {
          finish(JSON.parse(xhr.responseText));
        } catch (err) {
          finish({ error: "The server's answer could not be read. Try again." });
        }
      } else {
        finish({ error: `${file.name}: ${xhr.responseText || "the upload failed (HTTP " + xhr.status + ")."}` });
      }
    };
    xhr.onerror = () => finish({ error: `${file.name}: the upload failed (connection lost). Try again.` });
    show(`Uploading ${file.name}…`);
    xhr.send(file);
  };
  document.addEventListener("change", (e) => {
    if (e.target && e.target.id === "import-file") upload(e.target);
  });
  window.soloImport = {
    take() {
      const value = result;
      result = null;
      return value;
    },
  };
})();
