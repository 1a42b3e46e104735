"""Import and export of chats: the page uploads to `POST /api/import` (authenticated before the body is read),
then tells this state the staged file's opaque id; exports are written to disk in the background and handed
to the browser as a single-use `GET /api/export/<id>` download."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import reflex as rx

from services import chat
from services.chat import transfers
from services.context import Ctx
from services.errors import ServiceError
from state.chat import ChatState
from state.session import require_user

log = logging.getLogger("solo.chat")

_SHOWN_SKIPS = 50  # skipped conversations listed in the page (the rest are counted)


def plural(n: int, one: str, many: str | None = None) -> str:
    """'1 conversation', '2 conversations', '0 conversations'."""
    return f"{n} {one if n == 1 else (many or one + 's')}"


def progress_text(name: str, p: chat.ImportProgress) -> str:
    skipped = f", {p.skipped} skipped" if p.skipped else ""
    return (
        f"Importing {name}: {p.percent}% read, {plural(p.conversations, 'conversation')} imported{skipped}…"
    )


def result_text(result: chat.ImportResult) -> str:
    skipped = len(result.skipped)
    note = ""
    if skipped:
        verb = "was" if skipped == 1 else "were"
        note = f" {plural(skipped, 'conversation')} {verb} not imported (listed below)."
    if not result.conversations:
        return f"No conversation was imported.{note}"
    return (
        f"Imported {plural(result.conversations, 'conversation')} "
        f"({plural(result.messages, 'message')}).{note}"
    )


def _download(token: str, filename: str) -> Any:
    return rx.download(url=f"/api/export/{token}", filename=filename)


class ChatIOState(rx.State):
    import_status: str = ""
    import_error: str = ""
    import_skipped: list[str] = []  # "title: reason" of each conversation left out
    importing: bool = False
    export_status: str = ""
    # Backend only.
    _import_id: str = ""
    _import_name: str = ""

    @rx.event
    async def import_files(self, staged: Any):
        """Called by the page's upload script with the answer of POST /api/import ({id, name} or {error})."""
        if not staged:
            return  # the file dialog was cancelled
        self.import_error, self.import_skipped = "", []
        try:
            await require_user(self)
        except ServiceError as exc:
            self.import_error = str(exc)
            return
        if not isinstance(staged, dict) or not isinstance(staged.get("id"), str):
            error = staged.get("error") if isinstance(staged, dict) else None
            self.import_error = str(error or "The upload failed. Try again.")[:500]
            return
        if self.importing:
            self.import_error = "An import is already running: wait for it to finish."
            return
        self._import_id = staged["id"]
        self._import_name = str(staged.get("name") or "file")[:200]
        self.importing = True
        self.import_status = f"Reading {self._import_name}…"
        return ChatIOState.run_import

    @rx.event(background=True)
    async def run_import(self):
        async with self:
            token, name = self._import_id, self._import_name
            self._import_id = ""
            try:
                ctx = await require_user(self)
            except ServiceError as exc:
                self.importing, self.import_status, self.import_error = False, "", str(exc)
                return

        async def progress(p: chat.ImportProgress) -> None:
            async with self:
                self.import_status = progress_text(name, p)

        try:
            path = await asyncio.to_thread(transfers.claim_upload, ctx, token)
        except ServiceError as exc:
            async with self:
                self.importing, self.import_status, self.import_error = False, "", str(exc)
            return
        try:
            result = await chat.import_file(ctx, path, progress=progress)
        except ServiceError as exc:
            result, error = None, f"{name}: {exc}"
        except Exception:  # never leave the page stuck on "Importing…"
            log.exception("import of %s failed", name)
            result, error = (
                None,
                f"{name}: the import failed unexpectedly. Nothing more was imported; try again.",
            )
        finally:
            await asyncio.to_thread(transfers.discard, path)
        async with self:
            self.importing = False
            if result is None:
                self.import_status, self.import_error = "", error
                return
            self._show_result(result)
            sidebar = await self.get_state(ChatState)
            await sidebar._load_sidebar(ctx, reset=True)

    def _show_result(self, result: chat.ImportResult) -> None:
        skipped = len(result.skipped)
        self.import_status = result_text(result)
        self.import_skipped = [s.reason for s in result.skipped[:_SHOWN_SKIPS]]
        if skipped > _SHOWN_SKIPS:
            self.import_skipped.append(f"… and {skipped - _SHOWN_SKIPS} more.")

    @rx.event
    def dismiss_import(self):
        self.import_status, self.import_error, self.import_skipped = "", "", []

    @rx.event
    def page_opened(self):
        """The controls were mounted (a page load or another page): an outcome shown before is not shown
        again. An import or export still running keeps its progress."""
        if not self.importing:
            self.import_status, self.import_error, self.import_skipped = "", "", []
        if not self.export_status.startswith("Preparing"):
            self.export_status = ""

    # Export ---------------------------------------------------------------------------------------------

    @rx.event
    async def export(self, fmt: str):
        """The open conversation as Markdown ("md") or JSON (the whole tree)."""
        self.export_status = ""
        page = await self.get_state(ChatState)
        try:
            ctx = await require_user(self)
            cid = uuid.UUID(page.conversation_id)
        except ServiceError as exc:
            self.export_status = str(exc)
            return
        except ValueError:
            return
        filename = chat.conversation_filename(page.title or "chat", fmt)
        try:
            token, path = await asyncio.to_thread(transfers.new_download, ctx, filename)
            await chat.write_conversation(ctx, cid, fmt, path)
        except ServiceError as exc:
            self.export_status = str(exc)
            return
        return _download(token, path.name)

    @rx.event(background=True)
    async def export_all(self):
        async with self:
            if self.export_status.startswith("Preparing"):
                return
            try:
                ctx = await require_user(self)
            except ServiceError as exc:
                self.export_status = str(exc)
                return
            self.export_status = "Preparing the archive of all your chats…"
        outcome = await self._write_all(ctx)
        async with self:
            if isinstance(outcome, str):
                self.export_status = outcome
                return
            self.export_status = ""
        yield _download(*outcome)

    async def _write_all(self, ctx: Ctx) -> tuple[str, str] | str:
        try:
            token, path = await asyncio.to_thread(transfers.new_download, ctx, "conversations.zip")
            await chat.write_archive(ctx, path)
        except ServiceError as exc:
            return str(exc)
        except Exception:
            log.exception("export failed")
            return "The export failed unexpectedly. Try again."
        return token, path.name
