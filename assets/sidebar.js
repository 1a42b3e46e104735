// The sidebar (see components/sidebar.py).
(() => {
  if (window.soloSidebar) return;
  window.soloSidebar = true;

  // "Load more" (marked data-autoload) clicks itself when it scrolls into view, so long conversation lists
  // load page by page as the user scrolls. The button stays for keyboard users.
  const seen = new WeakSet();
  const io = new IntersectionObserver((entries) => {
    for (const e of entries) if (e.isIntersecting && !e.target.disabled) e.target.click();
  });
  const scan = () =>
    document.querySelectorAll("[data-autoload]").forEach((el) => {
      if (!seen.has(el)) {
        seen.add(el);
        io.observe(el);
      }
    });
  new MutationObserver(scan).observe(document.documentElement, { childList: true, subtree: true });
  scan();

  // Search as you type: the search form is submitted 300 ms after the last keystroke (one event, not one per
  // key); Enter submits at once. Clear empties every search box and puts the focus back in this one.
  const DEBOUNCE_MS = 300;
  let timer = 0;
  const isBox = (el) => el instanceof HTMLInputElement && el.hasAttribute("data-search-as-you-type");
  document.addEventListener(
    "input",
    (e) => {
      if (!isBox(e.target)) return;
      const form = e.target.form;
      clearTimeout(timer);
      timer = setTimeout(() => form && form.isConnected && form.requestSubmit(), DEBOUNCE_MS);
    },
    true,
  );
  document.addEventListener(
    "submit",
    (e) => {
      if (e.target instanceof HTMLFormElement && e.target.querySelector("[data-search-as-you-type]"))
        clearTimeout(timer);
    },
    true,
  );
  document.addEventListener(
    "click",
    (e) => {
      const clear = e.target instanceof Element && e.target.closest("[data-clear-search]");
      if (!clear) return;
      clearTimeout(timer);
      document.querySelectorAll("input[data-search-as-you-type]").forEach((box) => (box.value = ""));
      const own = clear.closest(".solo-sidebar")?.querySelector("input[data-search-as-you-type]");
      if (own) own.focus();
    },
    true,
  );
  // ArrowDown in the search box goes to the first result.
  document.addEventListener("keydown", (e) => {
    if (e.key !== "ArrowDown" || !isBox(e.target)) return;
    const first = e.target.closest(".solo-sidebar")?.querySelector(".solo-sidebar-list a[href]");
    if (first) {
      e.preventDefault();
      first.focus();
    }
  });

  // A conversation row is one Tab stop (its link). Shift+F10 or the Menu key on it opens its actions
  // menu (the "…" button, which is not a Tab stop) as the keyboard would: focus it, press ArrowDown.
  let menuKeyAt = 0;
  let keyboardRow = null; // the row whose menu the keyboard opened: the focus comes back to it
  document.addEventListener(
    "keydown",
    (e) => {
      const wanted = e.key === "ContextMenu" || (e.key === "F10" && e.shiftKey);
      if (!wanted || !(e.target instanceof Element)) return;
      const row = e.target.closest(".solo-conv-row");
      const button = row && row.querySelector(".solo-conv-actions");
      if (!button) return;
      e.preventDefault();
      e.stopPropagation();
      menuKeyAt = Date.now();
      button.focus();
      keyboardRow = row;
      button.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowDown", bubbles: true, cancelable: true }));
    },
    true,
  );
  // The browser's own context menu that the same key would open.
  document.addEventListener(
    "contextmenu",
    (e) => {
      if (Date.now() - menuKeyAt < 1000) e.preventDefault();
    },
    true,
  );
  // When that menu closes, the focus goes back to the row's link (the Tab stop), not the "…" button.
  document.addEventListener("focusin", (e) => {
    const button = e.target instanceof Element && e.target.closest(".solo-conv-actions");
    if (!button || !keyboardRow || !keyboardRow.contains(button)) return;
    if (button.getAttribute("aria-expanded") === "true") return;
    const link = keyboardRow.querySelector(".solo-conv-link");
    keyboardRow = null;
    if (link) link.focus();
  });

  // On a phone, following a link in the drawer (a conversation, New chat, Settings) closes the drawer.
  document.addEventListener("click", (e) => {
    const link = e.target instanceof Element && e.target.closest("[data-vaul-drawer] a[href]");
    if (!link || e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey) return;
    const close = link.closest("[data-vaul-drawer]").querySelector("button[aria-label='Close']");
    if (close) setTimeout(() => close.click(), 0);
  });
})();
