// The agent builder's avatar image (state: AgentBuilderState.avatar_uploaded in state/agent_builder.py).
// The chosen image is sent with a plain POST to /api/agents/avatar (the HttpOnly session cookie goes with it; the
// server redraws it as a small PNG). The answer is handed to the Reflex state by clicking the hidden
// #agent-avatar-sync button, whose click runs window.soloAvatar.take().
(() => {
  if (window.soloAvatar) return;
  let last = null;
  const report = (result) => {
    last = result;
    document.getElementById("agent-avatar-sync")?.click();
  };
  const upload = (file) => {
    const max = Number(document.getElementById("agent-avatar-file")?.dataset.maxBytes || 0);
    if (max && file.size > max) {
      report({ error: `The image is larger than ${Math.floor(max / 1048576)} MB: choose a smaller one.` });
      return;
    }
    report({ uploading: true });
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/agents/avatar");
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.onload = () => {
      if (xhr.status === 201) {
        try {
          report({ avatar: JSON.parse(xhr.responseText).avatar });
        } catch (err) {
          report({ error: "The server's answer could not be read. Try again." });
        }
      } else {
        report({ error: xhr.responseText || `The upload failed (HTTP ${xhr.status}).` });
      }
    };
    xhr.onerror = () => report({ error: "The upload failed (connection lost). Try again." });
    xhr.send(file);
  };
  document.addEventListener("change", (e) => {
    if (e.target && e.target.id === "agent-avatar-file" && e.target.files && e.target.files[0]) {
      upload(e.target.files[0]);
      e.target.value = ""; // the same image can be chosen again
    }
  });
  window.soloAvatar = {
    take: () => {
      const result = last;
      last = null;
      return result;
    },
  };
})();
