// Every page (see components/shell.py).
// The skip link: its click moves the focus to the message box when the page has one (and it is enabled),
// else to the page's main content. Handled before React sees the click, so no navigation happens.
(() => {
  if (window.soloSkipLink) return;
  window.soloSkipLink = true;
  const target = () =>
    document.querySelector("#message-input:not([disabled])") ||
    document.getElementById("main-content") ||
    document.getElementById("messages") ||
    document.querySelector("main, [role=main]");
  window.addEventListener(
    "click",
    (e) => {
      const link = e.target instanceof Element && e.target.closest("[data-skip-link]");
      if (!link) return;
      e.preventDefault();
      e.stopPropagation();
      const to = target();
      if (!to) return;
      if (!to.matches("input, textarea, select, button, a[href], [tabindex]")) to.setAttribute("tabindex", "-1");
      to.focus();
      to.scrollIntoView({ block: "nearest" });
    },
    true,
  );
})();
