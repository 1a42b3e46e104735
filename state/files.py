"""Files page (/files): the member's knowledge base. Uploads go straight to `POST /api/files` from the browser
(assets/files.js); this state lists the files page by page, shows the uploads in flight and their refusals,
polls processing files until they are ready, and runs rename, delete, retry, collections and the preview.

Every handler asks the server who is asking (`require_user`); ids stay strings in public vars only because the
services check each one against the asking user again."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import reflex as rx

from services.auth.roles import has
from services.config import get_settings
from services.context import Ctx
from services.errors import NotFound, ServiceError
from services.files import collections, records
from state.session import require_user

log = logging.getLogger("solo.files")

PAGE = records.PAGE  # files per page ("Load more" adds the next)
POLL_SECONDS = 1.5
POLL_MAX_TICKS = 2400  # an hour: a stuck job does not poll forever
POLL_BATCH = 50  # processing files re-read per tick
PREVIEW_CHARS = 200_000  # of extracted text sent to the browser at once
SORTS = {"recent": "Newest", "oldest": "Oldest", "name": "Name", "size": "Size"}
KEYWORD_ONLY = (
    "Files are searched by keywords only: an admin can choose an embeddings model under Admin → Models."
)


def human_bytes(n: int) -> str:
    """1.2 MB, 640 KB, 1 GB (powers of 1024, as the quotas are set)."""
    value = float(max(0, n))
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            if unit == "B":
                return f"{int(value)} B"
            text = f"{value:.1f}" if value < 10 else f"{value:.0f}"
            return f"{text.removesuffix('.0')} {unit}"
        value /= 1024
    return f"{value:.0f} TB"  # pragma: no cover (the loop returns)


def status_text(f: records.FileInfo) -> str:
    if f.status == "processing":
        stage = f.stage.replace("_", " ") if f.stage else ""
        progress = f" {f.progress}%" if 0 < f.progress < 100 else ""
        return f"Processing: {stage}{progress}" if stage else f"Processing{progress}"
    return {"uploading": "Uploading", "ready": "Ready", "failed": "Failed"}.get(f.status, f.status)


def row_of(f: records.FileInfo, names: dict[uuid.UUID, str], of_file: list[uuid.UUID]) -> dict[str, str]:
    return {
        "id": str(f.id),
        "name": f.name,
        "label": f.label,
        "size": human_bytes(f.size_bytes),
        "pages": str(f.pages) if f.pages else "",
        "pages_short": f" · {f.pages} p." if f.pages else "",
        "status": f.status,
        "status_text": status_text(f),
        "progress": str(f.progress),
        "error": f.error_text,
        "date": f.created_at.strftime("%Y-%m-%d"),
        "mine": "yes" if f.mine else "",
        "collections": ", ".join(names[c] for c in of_file if c in names),
        "download": f"/api/files/{f.id}/download",
    }


def kind_options() -> list[dict[str, str]]:
    from services.files import sniff  # the type table of the upload guard

    seen: dict[str, str] = {}
    for kind, found in sniff.KINDS.items():
        seen.setdefault(kind, str(getattr(found, "label", kind.upper())))
    return [{"value": k, "label": v} for k, v in sorted(seen.items(), key=lambda kv: kv[1].lower())]


def apply_upload_events(
    uploads: list[dict[str, str]], events: list[Any], active: set[Any]
) -> tuple[list[dict[str, str]], bool, str]:
    """The upload rows after the script's events: (rows, whether any upload finished, a notice). A row still
    "uploading" whose upload the script no longer has (the page was reloaded meanwhile) is dropped."""
    rows, finished, notice = list(uploads), False, ""
    for e in events[:500]:
        if not isinstance(e, dict):
            continue
        key, kind = str(e.get("key", ""))[:40], e.get("type")
        if kind == "start":
            rows.append({"key": key, "name": str(e.get("name", ""))[:300], "state": "uploading"})
            rows[-1] |= {"progress": "", "message": ""}
        elif kind == "progress" and isinstance(e.get("pct"), int | float):
            rows = [u | {"progress": f"{int(e['pct'])}%"} if u["key"] == key else u for u in rows]
        elif kind == "done":
            rows, finished = [u for u in rows if u["key"] != key], True
            got = e.get("file") if isinstance(e.get("file"), dict) else {}
            if e.get("new") is False and got:
                notice = f"{str(e.get('name', ''))[:300]} was already stored as “{str(got.get('name', ''))[:300]}”."
        elif kind == "error":
            reason = str(e.get("error") or "The upload failed. Try again.")[:500]
            rows = [u | {"state": "refused", "message": reason} if u["key"] == key else u for u in rows]
    return [u for u in rows if u["state"] != "uploading" or u["key"] in active], finished, notice


def preview_note(f: records.FileInfo, found: list[Any], shown: list[dict[str, str]]) -> str:
    if not found:
        if f.status in ("uploading", "processing"):
            return "This file is still being processed: its text appears here when it is ready."
        return (
            f"This file could not be read: {f.error_text}" if f.status == "failed" else "No text was found."
        )
    if len(shown) == len(found):
        return ""
    pages = [r["page"] for r in shown if r["page"]]
    if not pages:
        return "The preview shows the beginning of the file: download it to read the rest."
    return f"The preview shows pages {pages[0]}–{pages[-1]} of {f.pages or '?'}: download the file to read the rest."


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


class FilesState(rx.State):
    files: list[dict[str, str]] = []
    has_more: bool = False
    query: str = ""
    kind: str = "all"
    collection: str = "all"
    sort: str = "recent"
    kinds: list[dict[str, str]] = []
    error: str = ""
    notice: str = ""
    loaded: bool = False
    keyword_only: bool = False
    max_bytes: int = 0
    # Storage.
    usage_text: str = ""
    usage_percent: int = 0
    tenant_usage_text: str = ""  # shown when the workspace's quota is the tighter one
    # Uploads in flight and refused ones: key, name, state (uploading | refused), progress, message.
    uploads: list[dict[str, str]] = []
    # Collections.
    collections: list[dict[str, str]] = []  # id, name, shared, count, editable
    is_admin: bool = False
    # Dialogs: "rename" | "delete" | "collections" | "manage" | "" (one at a time).
    dialog: str = ""
    dialog_file: str = ""  # the file's name, for the dialog's text
    dialog_error: str = ""
    file_collection_ids: list[str] = []  # checked in the file's collections dialog
    collection_edit: str = ""  # id of the collection being renamed in the manage dialog
    collection_delete: str = ""  # id of the collection asked to delete
    # Preview.
    preview_open: bool = False
    preview_name: str = ""
    preview_note: str = ""
    preview_sections: list[dict[str, str]] = []  # anchor, page_title, heading, text
    # Backend only.
    _dialog_id: str = ""
    _page_open: bool = False
    _polling: bool = False

    # Helpers ----------------------------------------------------------------------------------------------

    async def _ctx(self, permission: str = "workspace.use") -> Ctx | None:
        try:
            return await require_user(self, permission)
        except ServiceError as exc:
            self.error = str(exc)
            return None

    async def _run(self, work: Callable[[Ctx], Awaitable[object]], *, in_dialog: bool = False) -> bool:
        """Who is asking (on the server), then `work`; a refusal is shown in the page or the open dialog."""
        ctx = await self._ctx()
        if ctx is None:
            return False
        try:
            await work(ctx)
        except ServiceError as exc:
            if in_dialog:
                self.dialog_error = str(exc)
            else:
                self.error = str(exc)
            return False
        return True

    async def _refresh(self, ctx: Ctx, *, more: bool = False) -> None:
        """The first page (or, with `more`, the next one) of the files matching the filters; after a change
        as many rows as were shown."""
        offset = len(self.files) if more else 0
        wanted = PAGE if more else min(200, max(PAGE, len(self.files)))
        found, more_left = await records.list_files(
            ctx,
            query=self.query,
            kind="" if self.kind == "all" else self.kind,
            collection_id=_uuid(self.collection) if self.collection != "all" else None,
            sort=self.sort,
            offset=offset,
            limit=wanted,
        )
        names = {uuid.UUID(c["id"]): c["name"] for c in self.collections}
        member_of = await collections.file_collections(ctx, [f.id for f in found])
        rows = [row_of(f, names, member_of.get(f.id, [])) for f in found]
        self.files = self.files + rows if more else rows
        self.has_more = more_left

    async def _load_collections(self, ctx: Ctx) -> None:
        self.collections = [
            {"id": str(c.id), "name": c.name, "shared": "yes" if c.shared else "", "count": str(c.file_count)}
            | {"editable": "yes" if c.editable else ""}
            for c in await collections.list_collections(ctx)
        ]
        if self.collection != "all" and self.collection not in {c["id"] for c in self.collections}:
            self.collection = "all"

    async def _load_usage(self, ctx: Ctx) -> None:
        u = await records.usage(ctx)
        self.usage_text = f"{human_bytes(u.user_bytes)} of {human_bytes(u.user_quota)} used"
        self.usage_percent = min(100, round(100 * u.user_bytes / u.user_quota)) if u.user_quota else 0
        tighter = u.tenant_quota - u.tenant_bytes < u.user_quota - u.user_bytes
        self.tenant_usage_text = (
            f"The workspace: {human_bytes(u.tenant_bytes)} of {human_bytes(u.tenant_quota)} used"
            if tighter
            else ""
        )

    async def _load_search_mode(self, ctx: Ctx) -> None:
        from services.knowledge.embed import embeddings_config

        try:
            self.keyword_only = await embeddings_config(ctx.tenant_id) is None
        except Exception:  # the page still opens; search falls back to keywords anyway
            log.warning("could not read the embeddings settings", exc_info=True)
            self.keyword_only = True

    def _processing(self) -> bool:
        return any(r["status"] in ("uploading", "processing") for r in self.files)

    async def _changed(self, ctx: Ctx) -> None:
        """After a change: the collections (their counts), the rows shown and the storage used."""
        await self._load_collections(ctx)
        await self._refresh(ctx)
        await self._load_usage(ctx)

    # Loading and filters ----------------------------------------------------------------------------------

    @rx.event
    async def load(self):
        """on_load of /files (after SessionState.load_private). Opens the preview asked for in the URL
        (`?file=<id>&page=<n>`: the chat's Sources link there)."""
        self.error = self.notice = ""
        self.dialog, self._dialog_id, self.preview_open = "", "", False
        self.files, self.has_more, self.loaded = [], False, False
        self.uploads = [u for u in self.uploads if u["state"] == "uploading"]  # the script drops stale ones
        self.query, self.kind, self.collection, self.sort = "", "all", "all", "recent"
        self._page_open = True

        async def work(ctx: Ctx) -> None:
            self.is_admin = has(ctx, "members.manage")
            self.max_bytes = get_settings().upload_max_mb * 1024 * 1024
            self.kinds = kind_options()
            await self._changed(ctx)
            await self._load_search_mode(ctx)

        if not await self._run(work):
            return
        self.loaded = True
        events: list[Any] = []
        params = self.router.url.query_parameters
        if params.get("file"):
            page = params.get("page", "")
            opened = FilesState.open_preview(params.get("file", ""), page if page.isdigit() else "")  # type: ignore[operator]
            events.append(opened)
        if self._processing():
            events.append(FilesState.poll)
        return events

    @rx.event
    def page_closed(self):
        self._page_open = False

    @rx.event
    async def search(self, query: str):
        """The search box (debounced in the page): names containing the text, any case."""
        self.query = str(query)[:200]
        await self._reload()

    @rx.event
    async def set_kind(self, kind: str):
        self.kind = str(kind)[:40] or "all"
        await self._reload()

    @rx.event
    async def set_collection(self, collection_id: str):
        self.collection = str(collection_id)[:40] or "all"
        await self._reload()

    @rx.event
    async def set_sort(self, sort: str):
        self.sort = sort if sort in SORTS else "recent"
        await self._reload()

    async def _reload(self) -> None:
        self.error = self.notice = ""
        self.files = []
        await self._run(self._refresh)

    @rx.event
    async def load_more(self):
        await self._run(lambda ctx: self._refresh(ctx, more=True))

    # Polling --------------------------------------------------------------------------------------------

    @rx.event(background=True)
    async def poll(self):
        """Re-reads the files still processing every ~1.5 s while the page is open; stops when none is."""
        async with self:
            if self._polling:
                return
            self._polling = True
        try:
            for _ in range(POLL_MAX_TICKS):
                await asyncio.sleep(POLL_SECONDS)
                async with self:
                    ids = [r["id"] for r in self.files if r["status"] in ("uploading", "processing")]
                    ctx = await self._ctx() if self._page_open and ids else None
                if ctx is None:
                    return
                fresh: dict[str, records.FileInfo | None] = {}
                for file_id in ids[:POLL_BATCH]:
                    try:
                        fresh[file_id] = await records.get(ctx, uuid.UUID(file_id))
                    except NotFound:
                        fresh[file_id] = None  # deleted meanwhile
                async with self:
                    rows: list[dict[str, str]] = []
                    for r in self.files:
                        if r["id"] not in fresh:
                            rows.append(r)
                        elif (f := fresh[r["id"]]) is not None:
                            rows.append(row_of(f, {}, []) | {"collections": r["collections"]})
                    self.files = rows
        except ServiceError:
            return
        finally:
            async with self:
                self._polling = False

    # Uploads --------------------------------------------------------------------------------------------

    @rx.event
    async def upload_events(self, taken: Any):
        """Called by assets/files.js with what happened since the last call (uploads started, their progress,
        the server's row or its reason for refusing the file) and the uploads still in flight."""
        if not isinstance(taken, dict) or await self._ctx() is None:
            return
        got = taken.get("events")
        events: list[Any] = got if isinstance(got, list) else []
        active = set(taken.get("active") or [])
        self.uploads, finished, notice = apply_upload_events(self.uploads, events, active)
        self.notice = notice or self.notice
        if finished and await self._run(self._changed) and self._processing():
            return FilesState.poll

    @rx.event
    def dismiss_upload(self, key: str):
        self.uploads = [u for u in self.uploads if u["key"] != key]

    @rx.event
    async def retry(self, file_id: str):
        from services.knowledge import ingest

        self.error = self.notice = ""
        target = _uuid(file_id)

        async def work(ctx: Ctx) -> None:
            if target is None:
                raise NotFound(records.FILE_NOT_FOUND)
            await ingest.retry(ctx, target)
            await self._refresh(ctx)

        if await self._run(work):
            return FilesState.poll

    # Rename, delete, a file's collections -----------------------------------------------------------------

    @rx.event
    async def ask(self, dialog: str, file_id: str):
        """Opens the rename, delete or collections dialog of a file."""
        self.error = self.notice = self.dialog_error = ""
        row = next((r for r in self.files if r["id"] == file_id), None)
        if dialog not in ("rename", "delete", "collections") or row is None:
            return

        async def work(ctx: Ctx) -> None:
            if dialog == "collections":
                await self._load_collections(ctx)
                of = await collections.file_collections(ctx, [uuid.UUID(file_id)])
                self.file_collection_ids = [str(c) for c in of.get(uuid.UUID(file_id), [])]

        if await self._run(work):
            self.dialog, self._dialog_id, self.dialog_file = dialog, file_id, row["name"]

    @rx.event
    def close_dialog(self, is_open: bool = False):
        if not is_open:
            self.dialog, self._dialog_id, self.dialog_error = "", "", ""
            self.collection_edit = self.collection_delete = ""

    def _target(self, dialog: str) -> uuid.UUID:
        target = _uuid(self._dialog_id) if self.dialog == dialog else None
        if target is None:
            raise NotFound(records.FILE_NOT_FOUND)
        return target

    @rx.event
    async def rename(self, form: dict[str, Any]):
        async def work(ctx: Ctx) -> None:
            done = await records.rename(ctx, self._target("rename"), str(form.get("name", ""))[:300])
            await self._refresh(ctx)
            self.notice = f"Renamed to {done.name}."

        if await self._run(work, in_dialog=True):
            self.dialog, self._dialog_id = "", ""

    @rx.event
    async def delete(self):
        async def work(ctx: Ctx) -> None:
            await records.delete_file(ctx, self._target("delete"))
            await self._changed(ctx)
            self.notice = f"Deleted {self.dialog_file}."

        await self._run(work)
        self.dialog, self._dialog_id = "", ""

    @rx.event
    def toggle_file_collection(self, collection_id: str, checked: bool):
        chosen = [c for c in self.file_collection_ids if c != collection_id]
        self.file_collection_ids = [*chosen, collection_id] if checked else chosen

    @rx.event
    async def save_file_collections(self):
        wanted = [c for c in (_uuid(i) for i in self.file_collection_ids) if c is not None]

        async def work(ctx: Ctx) -> None:
            await collections.set_file_collections(ctx, self._target("collections"), wanted)
            await self._changed(ctx)
            self.notice = f"Saved the collections of {self.dialog_file}."

        if await self._run(work, in_dialog=True):
            self.dialog, self._dialog_id = "", ""

    # Managing collections ---------------------------------------------------------------------------------

    @rx.event
    async def open_manage(self):
        self.error = self.notice = self.dialog_error = ""
        if await self._run(self._load_collections):
            self.collection_edit = self.collection_delete = ""
            self.dialog, self._dialog_id = "manage", ""

    @rx.event
    async def create_collection(self, form: dict[str, Any]):
        self.dialog_error = ""
        shared = str(form.get("shared") or "") not in ("", "off", "false")

        async def work(ctx: Ctx) -> None:
            made = await collections.create_collection(ctx, str(form.get("name", ""))[:300], shared=shared)
            await self._load_collections(ctx)
            self.notice = f"Created the collection {made.name}."

        await self._run(work, in_dialog=True)

    @rx.event
    def edit_collection(self, collection_id: str):
        self.collection_edit, self.collection_delete, self.dialog_error = collection_id, "", ""

    @rx.event
    def ask_delete_collection(self, collection_id: str):
        self.collection_delete, self.collection_edit, self.dialog_error = collection_id, "", ""

    @rx.event
    async def rename_collection(self, form: dict[str, Any]):
        target = _uuid(self.collection_edit)

        async def work(ctx: Ctx) -> None:
            if target is None:
                raise NotFound(collections.COLLECTION_NOT_FOUND)
            await collections.rename_collection(ctx, target, str(form.get("name", ""))[:300])
            await self._changed(ctx)

        if await self._run(work, in_dialog=True):
            self.collection_edit = ""

    @rx.event
    async def delete_collection(self):
        target = _uuid(self.collection_delete)
        self.collection_delete = ""

        async def work(ctx: Ctx) -> None:
            if target is None:
                raise NotFound(collections.COLLECTION_NOT_FOUND)
            await collections.delete_collection(ctx, target)
            await self._changed(ctx)  # a filter on it falls back to all files

        await self._run(work, in_dialog=True)

    # Preview ------------------------------------------------------------------------------------------------

    @rx.event
    async def open_preview(self, file_id: str, page: str = ""):
        """The extracted text, page by page, scrolled to `page`."""
        self.error = ""
        target = _uuid(file_id)
        got: list[Any] = []

        async def work(ctx: Ctx) -> None:
            if target is None:
                raise NotFound(records.FILE_NOT_FOUND)
            got.extend([await records.get(ctx, target), await records.sections(ctx, target)])

        if not await self._run(work):
            return
        f, found = got
        wanted = int(page) if str(page).isdigit() else None
        self.preview_name, self.preview_sections = f.name, preview_rows(found, wanted)
        self.preview_note = preview_note(f, found, self.preview_sections)
        self.preview_open = True
        anchor = f"preview-page-{wanted}" if wanted is not None else "preview-top"
        return rx.call_script(f"window.soloFiles && window.soloFiles.scrollTo({anchor!r})")

    @rx.event
    def close_preview(self, is_open: bool = False):
        if not is_open:
            self.preview_open, self.preview_sections = False, []
            return rx.call_script("window.soloFiles && window.soloFiles.clearPreviewUrl()")


def preview_rows(found: list[Any], wanted: int | None) -> list[dict[str, str]]:
    """Sections as rows with a "Page n" title where a page starts; at most PREVIEW_CHARS of text, starting
    a little before the wanted page when the whole file is larger."""
    start = 0
    total = sum(len(s.text) for s in found)
    if total > PREVIEW_CHARS and wanted is not None:
        start = next((i for i, s in enumerate(found) if s.page is not None and s.page >= wanted), 0)
    rows: list[dict[str, str]] = []
    used, last_page = 0, None
    for s in found[start:]:
        if rows and used + len(s.text) > PREVIEW_CHARS:
            break
        used += len(s.text)
        new_page = s.page is not None and s.page != last_page
        rows.append(
            {
                "anchor": f"preview-page-{s.page}" if new_page else "",
                "page": str(s.page) if s.page is not None else "",
                "page_title": f"Page {s.page}" if new_page else "",
                "heading": s.heading,
                "text": s.text[:PREVIEW_CHARS],
            }
        )
        last_page = s.page
    return rows
