""" "Remember that …" and "forget that …" in a message: done at once, before the reply, which is told so.

Only a message that starts with the command counts ("Remember that I prefer short answers", "Please remember:
my launch is in May", "Forget that I live in Lisbon"), so that "don't forget to…" or "I remember when…" in the
middle of a question changes nothing. What follows the command is the memory (one sentence, as the Memory page
takes it); "forget" removes the member's memory closest to it (most shared words, at least half of the words of
the shorter one), or says that none matched.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from services.context import Ctx
from services.errors import ValidationError
from services.memory import store

_COMMAND = re.compile(
    r"^\s*(?:please\s+|hey[,!]?\s+|ok(?:ay)?[,!]?\s+)?(?P<verb>remember|forget)"
    r"(?:\s+that\b|\s*:|\s+(?=my\b|i\b|i'm\b|we\b|our\b))\s*(?P<what>.+)",
    re.IGNORECASE | re.DOTALL,
)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
MATCH_SHARE = 0.5  # of the shorter text's words, for "forget" to find a memory
OFF_NOTICE = "Memory is off, so nothing was saved or forgotten: turn on “Use memory” on the Memory page."
WORKSPACE_OFF_NOTICE = "Memory is turned off in this workspace, so nothing was saved or forgotten."
OFF_INSTRUCTION = (
    "The user asked you to remember or forget something, but their memory is turned off, so nothing changed. "
    "Tell them they can turn on “Use memory” on the Memory page."
)
WORKSPACE_OFF_INSTRUCTION = (
    "The user asked you to remember or forget something, but memory is turned off in this workspace, so nothing "
    "changed. Tell them so."
)


@dataclass(frozen=True, slots=True)
class Command:
    verb: str  # "remember" or "forget"
    what: str


@dataclass(frozen=True, slots=True)
class Done:
    """What the command did: for the model (a line of its system block) and for the page (a notice)."""

    instruction: str
    notice: str
    memory_id: uuid.UUID | None = None


def parse(message: str) -> Command | None:
    found = _COMMAND.match(message)
    if found is None:
        return None
    what = " ".join(found.group("what").split()).strip(" .")
    if not what or len(what) > store.MAX_CHARS:
        return None
    return Command(found.group("verb").lower(), what)


def words(value: str) -> set[str]:
    return {w for w in _WORD.findall(value.lower()) if len(w) > 1}


def closest(memories: list[store.MemoryInfo], what: str) -> store.MemoryInfo | None:
    """The memory sharing the most words with `what`, if they share at least half of the shorter's words."""
    wanted, best, best_share = words(what), None, 0.0
    for memory in memories:
        have = words(memory.text)
        if not wanted or not have:
            continue
        share = len(wanted & have) / min(len(wanted), len(have))
        if share > best_share:
            best, best_share = memory, share
    return best if best_share >= MATCH_SHARE else None


async def apply(
    ctx: Ctx, command: Command, *, conversation_id: uuid.UUID | None, message_id: uuid.UUID | None
) -> Done:
    if command.verb == "remember":
        try:
            saved = await store.add_memory(
                ctx, command.what, source="explicit", conversation_id=conversation_id, message_id=message_id
            )
        except ValidationError as exc:
            return Done(
                f"The user asked you to remember “{command.what}”, but it could not be saved: {exc} "
                "Tell them so.",
                f"Not saved to memory: {exc}",
            )
        return Done(
            f"The user asked you to remember “{saved.text}”. It is saved in their memory: confirm it in a few "
            "words, then answer anything else they asked.",
            f"Saved to memory: {saved.text}",
            saved.id,
        )
    match = closest(await store.list_memories(ctx), command.what)
    if match is None:
        return Done(
            f"The user asked you to forget “{command.what}”. Nothing in their memory matches it: tell them so, "
            "and that they can see everything kept on the Memory page.",
            f"Nothing in your memory matched “{command.what}”.",
        )
    await store.forget(ctx, match.id)
    return Done(
        f"The user asked you to forget “{command.what}”. This memory is deleted: “{match.text}”. Confirm it in "
        "a few words, and do not use it.",
        f"Forgotten: {match.text}",
    )
