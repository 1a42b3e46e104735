// The chat page (app/pages/chat.py): drafts that survive reloads and sign-ins, following the conversation as it
// grows, "Jump to latest", loading earlier messages at the top, focus and keyboard, the browser tab's title.
(() => {
  const $ = (id) => document.getElementById(id);
  const NEAR = 80; // px from the bottom that still counts as "at the latest message"
  let follow = true; // keep the newest message in view
  let lastPath = null;
  let programmatic = false;

  // Drafts: what is typed in the composer is kept per user and conversation in localStorage until it is sent.
  const draftKey = (path) => {
    const user = $("doc-title")?.dataset.user || "";
    return user ? `solo-draft:${user}:${path || location.pathname}` : "";
  };
  const setBox = (value) => {
    const box = $("message-input");
    if (!box) return;
    const setter = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, "value").set;
    setter.call(box, value);
    box.dispatchEvent(new Event("input", { bubbles: true }));
  };
  const saveDraft = () => {
    const box = $("message-input");
    const key = draftKey();
    if (!box || !key) return;
    try {
      if (box.value.trim()) localStorage.setItem(key, box.value);
      else localStorage.removeItem(key);
    } catch (e) { /* storage full or disabled: the box still holds the text */ }
  };
  const restoreDraft = () => {
    const box = $("message-input");
    const key = draftKey();
    if (!box || !key || box.value) return;
    const saved = localStorage.getItem(key);
    if (saved) setBox(saved);
  };
  document.addEventListener("input", (e) => { if (e.target.id === "message-input") saveDraft(); }, true);

  // Scrolling.
  const scroller = () => $("messages");
  const atBottom = (s) => s.scrollHeight - s.scrollTop - s.clientHeight < NEAR;
  const showJump = (show) => scroller()?.parentElement?.toggleAttribute("data-away", show);
  const toBottom = () => {
    const s = scroller();
    if (!s) return;
    programmatic = true;
    s.scrollTop = s.scrollHeight;
    requestAnimationFrame(() => { programmatic = false; });
    showJump(false);
  };
  // Only the user stops the following (wheel, touch, keys, the scrollbar); a scroll the layout causes (a resize,
  // content drawn again) never does. Reaching the bottom again resumes it.
  let userUntil = 0;
  const userIsScrolling = () => { userUntil = Date.now() + 400; };
  for (const type of ["wheel", "touchmove", "mousedown"]) {
    document.addEventListener(type, (e) => { if (scroller()?.contains(e.target)) userIsScrolling(); }, { passive: true, capture: true });
  }
  document.addEventListener("keydown", (e) => {
    if (["PageUp", "PageDown", "ArrowUp", "ArrowDown", "Home", "End", " "].includes(e.key)) userIsScrolling();
  }, true);
  document.addEventListener("wheel", (e) => { if (e.deltaY < 0 && scroller()?.contains(e.target)) follow = false; }, { passive: true, capture: true });
  document.addEventListener("scroll", (e) => {
    const s = scroller();
    if (e.target !== s) return;
    const bottom = atBottom(s);
    if (bottom) follow = true;
    else if (!programmatic && Date.now() < userUntil) follow = false;
    showJump(!bottom);
    const older = $("load-older");
    if (older && s.scrollTop < 300 && !programmatic && !follow && !older.dataset.busy) loadOlder(older);
  }, true);
  // The window or the content changes size (a phone turned, the colour mode redrawing code): stay at the latest.
  const resized = new ResizeObserver(() => { if (follow && scroller() && !atBottom(scroller())) toBottom(); });
  let observed = null;
  const observe = () => {
    const s = scroller();
    const inner = s?.firstElementChild;
    if (!inner || inner === observed) return;
    if (observed) resized.unobserve(observed);
    resized.observe(s);
    resized.observe(inner);
    observed = inner;
  };

  const focusBox = () => {
    const box = $("message-input");
    if (box && !box.disabled && matchMedia("(pointer: fine)").matches) box.focus({ preventScroll: true });
  };

  // A new page (another conversation, a new chat): start at its latest message, with its draft.
  const arrived = () => {
    lastPath = location.pathname;
    follow = !new URLSearchParams(location.search).get("m");
    restoreDraft();
    if (follow) toBottom();
    const active = document.activeElement;
    if (!active || active === document.body) focusBox();
  };

  const tick = () => {
    if ($("session-ended")) {  // the session ended elsewhere: the draft is saved; sign in and come back
      saveDraft();
      const next = location.pathname + location.search;
      location.assign("/login" + (next && next !== "/" ? "?next=" + encodeURIComponent(next) : ""));
      return;
    }
    const title = $("doc-title")?.dataset.title;
    if (title && document.title !== title) document.title = title;
    if (!$("messages")) { lastPath = null; return; }
    observe();
    if (location.pathname !== lastPath && !(lastPath === "/" && location.pathname.startsWith("/c/"))) arrived();
    lastPath = location.pathname;
    const s = scroller();
    if (follow && !atBottom(s)) toBottom();
    const older = $("load-older");
    if (!follow && older && s.scrollTop < 300 && !older.dataset.busy) loadOlder(older);
  };
  const loadOlder = (older) => {
    older.dataset.busy = "1";
    older.click();
    setTimeout(() => { delete older.dataset.busy; }, 400);
  };
  new MutationObserver(tick).observe(document.documentElement, { childList: true, subtree: true, characterData: true, attributes: true, attributeFilter: ["data-title", "data-user"] });
  setInterval(tick, 500);

  document.addEventListener("click", (e) => {
    const jump = e.target.closest?.("#jump-latest");
    if (jump) { follow = true; toBottom(); focusBox(); return; }
    const copy = e.target.closest?.("[data-copy]");
    if (copy) {
      const label = copy.getAttribute("aria-label");
      copy.setAttribute("data-copied", "1");
      copy.setAttribute("aria-label", "Copied");
      copy.setAttribute("title", "Copied");
      clearTimeout(copy._soloTimer);
      copy._soloTimer = setTimeout(() => {
        copy.removeAttribute("data-copied");
        copy.setAttribute("aria-label", label === "Copied" ? "Copy" : label);
        copy.setAttribute("title", label === "Copied" ? "Copy" : label);
      }, 2000);
    }
  }, true);
  document.addEventListener("submit", (e) => { if (e.target.id === "composer") follow = true; }, true);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && e.target.id === "edit-message") { e.preventDefault(); $("edit-cancel")?.click(); }
  }, true);

  window.soloChat = {
    // The server accepted the message: empty the box and its draft (under the address it was typed at).
    sent() {
      const key = draftKey();
      if (key) localStorage.removeItem(key);
      setBox("");
      follow = true;
      toBottom();
      focusBox();
    },
    // The message could not be stored: give it back (unless the user already typed something else).
    restore(text) {
      const box = $("message-input");
      if (box && !box.value) { setBox(text); saveDraft(); }
      focusBox();
    },
    reveal(id) {
      follow = false;
      setTimeout(() => $(id)?.scrollIntoView({ block: "center" }), 150);
    },
    clearDrafts() {
      for (let i = localStorage.length - 1; i >= 0; i--) {
        const k = localStorage.key(i);
        if (k && k.startsWith("solo-draft:")) localStorage.removeItem(k);
      }
    },
  };
})();
