"""Which models read images. Decided from the model's name: providers do not say it in their model lists.

Known families that accept image input (OpenAI gpt-4o/4.1/5 and o-series, Anthropic Claude 3 and later, xAI Grok
vision and Grok 4, Google Gemini, and the common open vision models served by Ollama or vLLM). Everything else
is treated as text-only, so a member is told before anything is sent rather than getting a provider error.
`VISION_MODELS` (comma-separated name fragments) adds models the list does not know.
"""

from __future__ import annotations

import os
import re

_KNOWN = re.compile(
    r"(gpt-4o|gpt-4\.1|gpt-4-turbo|gpt-4-vision|gpt-5|chatgpt-4o|(^|/)o[134](-|$)|claude-3|claude-(opus|sonnet|haiku)-4"
    r"|claude-(sonnet|opus)-[4-9]|grok-(\d-)?vision|grok-4|gemini|llava|bakllava|moondream|vision|-vl\b|qwen2\.5-vl"
    r"|pixtral|gemma3|minicpm-v|llama-4)",
    re.IGNORECASE,
)


def supports_images(model: str) -> bool:
    name = model.strip()
    extra = [p.strip().lower() for p in os.environ.get("VISION_MODELS", "").split(",") if p.strip()]
    return bool(_KNOWN.search(name)) or any(p in name.lower() for p in extra)
