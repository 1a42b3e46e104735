"""A title for a new conversation after its first exchange: from the model, else from the first words."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from services.chat.conversations import fallback_title, set_title
from services.context import Ctx
from services.llm import ChatMessage, Provider, collect_reply

TITLE_TIMEOUT = 20.0
PROMPT = "Reply with a short title (3 to 6 words) for this chat. No quotes, no punctuation at the end."


async def name_conversation(
    ctx: Ctx, conversation_id: uuid.UUID, provider: Provider | None, model: str, first_message: str
) -> str:
    """Ask the model for a title (bounded in time; any failure falls back to the first words), store it and
    return it."""
    title = ""
    if provider is not None:
        with contextlib.suppress(Exception):
            prompt = [ChatMessage("system", PROMPT), ChatMessage("user", first_message[:2000])]
            reply = await asyncio.wait_for(
                collect_reply(provider.stream_chat(model, prompt, max_tokens=24)), TITLE_TIMEOUT
            )
            title = " ".join(reply.text.split()).strip('"').strip()[:80] if reply.ok else ""
    title = title or fallback_title(first_message)
    return (await set_title(ctx, conversation_id, title)).title
