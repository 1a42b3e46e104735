"""Memory page (/memory): the member's own memories, which the assistant uses in replies. Lists and searches
them, adds one by hand, edits, pins, forgets one or all, and exports them as JSON.

Every handler asks the server who is asking (`require_user`) and calls services/memory/store.py, which touches
only that member's rows; ids stay strings in public vars only because the store checks each one against the
asking member again. The export is written to a single-use file served by `GET /api/export/<id>`, as the
chat export is."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import reflex as rx

from models import MEMORY_CATEGORIES
from services.chat import transfers
from services.config import get_settings
from services.context import Ctx
from services.errors import NotFound, ServiceError
from services.memory import store
from state.session import require_user

NEW_INPUT_ID = "memory-new"
NEW_CATEGORY_ID = "memory-new-category"
CATEGORY_LABELS = {
    "profile": "Profile",
    "preference": "Preference",
    "goal": "Goal",
    "business": "Business",
    "other": "Other",
}
CATEGORY_COLORS = {
    "profile": "blue",
    "preference": "violet",
    "goal": "green",
    "business": "amber",
    "other": "gray",
}
SOURCE_LABELS = {
    "manual": "Added by you",
    "explicit": "Said in chat",
    "extracted": "Learnt from chat",
    "imported": "Imported",
}


def source_label(source: str) -> str:
    """Where a memory came from, as the page says it."""
    return SOURCE_LABELS.get(source, source.replace("_", " ").capitalize())


def category_label(category: str) -> str:
    return CATEGORY_LABELS.get(category, category.capitalize())


def used_text(times_used: int, last_used_at: datetime | None) -> str:
    """ "Never used", or "Last used 2026-12-03 · used 3 times" ("used once" for one)."""
    if not times_used or last_used_at is None:
        return "Never used"
    times = "used once" if times_used == 1 else f"used {times_used} times"
    return f"Last used {last_used_at.strftime('%Y-%m-%d')} · {times}"


def first_words(text: str, n: int = 5) -> str:
    """The start of a memory for the buttons' accessible names ("Edit I coach first-time founders")."""
    words = text.split()
    start = " ".join(words[:n]).rstrip(".!?…,;:")
    return start + ("…" if len(words) > n else "")


def forgot_text(n: int) -> str:
    if n == 0:
        return "There was nothing to forget."
    return "Forgot 1 memory." if n == 1 else f"Forgot {n} memories."


def row_of(m: store.MemoryInfo) -> dict[str, str]:
    return {
        "id": str(m.id),
        "text": m.text,
        "short": first_words(m.text),
        "category": m.category,
        "category_label": category_label(m.category),
        "color": CATEGORY_COLORS.get(m.category, "gray"),
        "source": source_label(m.source),
        "pinned": "yes" if m.pinned else "",
        "created": m.created_at.strftime("%Y-%m-%d"),
        "used": used_text(m.times_used, m.last_used_at),
        # The message it came from, opened on its branch (the chat page's ?m=), else its conversation.
        "conversation": (
            f"/c/{m.conversation_id}" + (f"?m={m.message_id}" if m.message_id else "")
            if m.conversation_id
            else ""
        ),
    }


def category_options() -> list[dict[str, str]]:
    return [{"value": c, "label": category_label(c)} for c in MEMORY_CATEGORIES]


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound(store.NOT_FOUND) from None


def _all() -> int:
    """A limit that lists every memory a member may keep."""
    return max(1, get_settings().memory_max_count)


def _write_json(path: Path, data: list[dict[str, Any]]) -> None:
    path.write_text(json.dumps({"memories": data}, ensure_ascii=False, indent=2), encoding="utf-8")


class MemoryState(rx.State):
    memories: list[dict[str, str]] = []
    total: int = 0  # all the member's memories, whatever the filters
    query: str = ""
    category: str = "all"
    loaded: bool = False
    error: str = ""
    notice: str = ""
    form_error: str = ""  # beside the "Add memory" form
    editing: str = ""  # id of the memory whose text is being edited
    edit_error: str = ""
    confirm_forget_all: bool = False
    enabled: bool = True  # the member's "Use memory"
    workspace_on: bool = True  # the workspace's admins leave memory on

    # Helpers ----------------------------------------------------------------------------------------------

    async def _run(self, work: Callable[[Ctx], Awaitable[object]], *, where: str = "page") -> bool:
        """Who is asking (on the server), then `work`; a refusal is shown in the page, the form or the row."""
        try:
            ctx = await require_user(self)
            await work(ctx)
        except ServiceError as exc:
            if where == "form":
                self.form_error = str(exc)
            elif where == "edit":
                self.edit_error = str(exc)
            else:
                self.error = str(exc)
            return False
        return True

    async def _refresh(self, ctx: Ctx) -> None:
        state = await store.memory_state(ctx)
        self.enabled, self.workspace_on = state.enabled, state.workspace
        category = self.category if self.category in MEMORY_CATEGORIES else ""
        found = await store.list_memories(ctx, query=self.query, category=category, limit=_all())
        self.memories = [row_of(m) for m in found]
        self.total = (
            len(found) if not (self.query or category) else len(await store.list_memories(ctx, limit=_all()))
        )

    def _clear(self) -> None:
        self.error = self.notice = self.form_error = ""

    # Loading and filters ----------------------------------------------------------------------------------

    @rx.event
    async def load(self):
        """on_load of /memory (after SessionState.load_private)."""
        self._clear()
        self.memories, self.total, self.loaded = [], 0, False
        self.query, self.category, self.editing, self.edit_error = "", "all", "", ""
        self.confirm_forget_all = False
        if await self._run(self._refresh):
            self.loaded = True
            # "Edit" under a reply's "Used N memories" opens /memory?edit=<id>: that row's editor, if it is theirs.
            wanted = str(self.router.url.query_parameters.get("edit", ""))[:40]
            if wanted and any(m["id"] == wanted for m in self.memories):
                self.editing = wanted

    @rx.event
    async def set_enabled(self, on: bool):
        """The "Use memory" switch: off, replies use and save none of them (they stay until forgotten)."""
        self._clear()

        async def work(ctx: Ctx) -> None:
            await store.set_memory_enabled(ctx, bool(on))
            self.enabled = bool(on)
            self.notice = (
                "Memory is on: replies use what is kept here."
                if on
                else ("Memory is off: replies use none of these, and nothing new is saved.")
            )

        await self._run(work)

    @rx.event
    async def search(self, query: str):
        """The search box (debounced in the page): memories containing every word, any case."""
        self.query = str(query)[:200]
        self._clear()
        await self._run(self._refresh)

    @rx.event
    async def set_category(self, category: str):
        self.category = category if category in MEMORY_CATEGORIES else "all"
        self._clear()
        await self._run(self._refresh)

    # Add, edit, pin, forget -------------------------------------------------------------------------------

    @rx.event
    async def add(self, form: dict[str, Any]):
        self._clear()
        body = str(form.get("text", ""))[: store.MAX_CHARS * 2]
        category = str(form.get("category", "other"))[:40]

        async def work(ctx: Ctx) -> None:
            await store.add_memory(ctx, body, category=category, source="manual")
            await self._refresh(ctx)

        if await self._run(work, where="form"):
            self.notice = "Saved. The assistant uses it from your next message."
            return [rx.set_value(NEW_INPUT_ID, ""), rx.set_value(NEW_CATEGORY_ID, "other")]

    @rx.event
    def start_edit(self, memory_id: str):
        self._clear()
        self.editing, self.edit_error = str(memory_id)[:40], ""

    @rx.event
    def cancel_edit(self):
        self.editing, self.edit_error = "", ""

    @rx.event
    async def save_edit(self, form: dict[str, Any]):
        self._clear()
        self.edit_error = ""
        body = str(form.get("text", ""))[: store.MAX_CHARS * 2]
        target = self.editing

        async def work(ctx: Ctx) -> None:
            await store.edit_memory(ctx, _uuid(target), body)
            await self._refresh(ctx)

        if await self._run(work, where="edit"):
            self.editing = ""
            self.notice = "Saved your change."

    @rx.event
    async def toggle_pin(self, memory_id: str):
        self._clear()
        row = next((r for r in self.memories if r["id"] == memory_id), None)
        pinned = not (row and row["pinned"])

        async def work(ctx: Ctx) -> None:
            await store.set_pinned(ctx, _uuid(memory_id), pinned)
            await self._refresh(ctx)

        if await self._run(work):
            self.notice = (
                "Pinned: the assistant uses it in every reply."
                if pinned
                else "Unpinned: it is used when it fits the conversation."
            )

    @rx.event
    async def forget(self, memory_id: str):
        self._clear()
        row = next((r for r in self.memories if r["id"] == memory_id), None)

        async def work(ctx: Ctx) -> None:
            await store.forget(ctx, _uuid(memory_id))
            await self._refresh(ctx)

        if await self._run(work):
            if self.editing == memory_id:
                self.editing = ""
            self.notice = f"Forgot “{row['short']}”." if row else "Forgot it."

    @rx.event
    def ask_forget_all(self):
        self._clear()
        self.confirm_forget_all = True

    @rx.event
    def close_forget_all(self, is_open: bool = False):
        if not is_open:
            self.confirm_forget_all = False

    @rx.event
    async def forget_all(self):
        self.confirm_forget_all = False
        self._clear()
        done: list[int] = []

        async def work(ctx: Ctx) -> None:
            done.append(await store.forget_everything(ctx))
            await self._refresh(ctx)

        if await self._run(work):
            self.editing = ""
            self.notice = forgot_text(done[0])

    # Export -----------------------------------------------------------------------------------------------

    @rx.event
    async def export(self):
        """All the member's memories as JSON (without embeddings), as a single-use download."""
        self._clear()
        got: list[str] = []

        async def work(ctx: Ctx) -> None:
            data = store.export(await store.list_memories(ctx, limit=_all()))
            token, path = await asyncio.to_thread(transfers.new_download, ctx, "memories.json")
            await asyncio.to_thread(_write_json, path, data)
            got.extend([token, path.name])

        if await self._run(work):
            return rx.download(url=f"/api/export/{got[0]}", filename=got[1])
