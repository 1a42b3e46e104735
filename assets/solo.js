// Clicks a button marked data-autoload when it scrolls into view (the sidebar's "Load more"), so long
// conversation lists load page by page as the user scrolls. The button stays for keyboard users.
(() => {
  const seen = new WeakSet();
  const io = new IntersectionObserver((entries) => {
    for (const e of entries) if (e.isIntersecting && !e.target.disabled) e.target.click();
  });
  const scan = () => document.querySelectorAll("[data-autoload]").forEach((el) => {
    if (!seen.has(el)) { seen.add(el); io.observe(el); }
  });
  new MutationObserver(scan).observe(document.documentElement, { childList: true, subtree: true });
  scan();
})();
