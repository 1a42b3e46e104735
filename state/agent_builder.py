"""The agent builder (/agents/new and /agents/<id>): the form of one agent, saved as a new version each time,
its versions (compare, restore), delete; and, beside it, a test chat that runs the form as it is now, unsaved.

The form's fields are plain vars (the page binds them, debounced), so "Test" and "Save" read exactly what is on
screen, and a refused save leaves them as typed. `AgentTestState` (state/agent_test.py) keeps the test chat in its own small state:
the streamed text and tool cards change many times a second and must not send the form back each time.

Every handler asks the server who is asking (`require_user`); the services decide what may be saved, read or
run. The flags here (may edit, may share) only choose which controls to show."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import reflex as rx

from models import PLAN_TIERS
from services import ai_catalog
from services.agents import avatars, gallery, store
from services.agents.store import AgentDraft, AgentInfo, ToolChoice
from services.auth.roles import has
from services.context import Ctx
from services.errors import NotFound, ServiceError, ValidationError
from services.files import collections, records
from state import request
from state.agent_compare import VISIBILITY_LABELS, change_rows, tool_label
from state.agent_tool_fields import field_specs, needs_label, rows_for, settings_of
from state.agents import AgentsState, category_choices, may_create, may_edit
from state.session import require_user

log = logging.getLogger("solo.agents")

NEW = "new"
TEST_INPUT_ID = "agent-test-input"
MAX_FILE_CHOICES = 200
# Plain helpers (no state) ---------------------------------------------------------------------------------


def _number(raw: str, kind: type[int] | type[float], problem: str) -> Any:
    text = str(raw).strip().replace(",", ".") if kind is float else str(raw).strip()
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        raise ValidationError(problem) from None


def parse_temperature(raw: str) -> float | None:
    return _number(
        raw, float, "The temperature is a number from 0 to 2 (leave it empty for the model's own)."
    )  # type: ignore[no-any-return]


def parse_max_tokens(raw: str) -> int | None:
    return _number(raw, int, "The reply length limit is a whole number of tokens (or empty for no limit).")  # type: ignore[no-any-return]


def parse_max_steps(raw: str) -> int:
    steps = _number(raw, int, f"The tool steps are a whole number from 1 to {store.MAX_STEPS}.")
    return 5 if steps is None else int(steps)


def _ids(values: Sequence[str], what: str) -> tuple[uuid.UUID, ...]:
    try:
        return tuple(uuid.UUID(v) for v in values)
    except ValueError:
        raise ValidationError(f"One of the agent's {what} is not valid: untick it and save again.") from None


async def _composio_status(ctx: Ctx) -> dict[str, str]:
    """The member's Composio connections by toolkit ({} when Composio cannot say: the picker still lists)."""
    from services.tools import composio

    try:
        return {c.toolkit: c.status for c in await composio.connections(ctx)}
    except ServiceError:
        return {}


def _when(moment: Any) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else ""


def _agent_uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound(store.NOT_FOUND) from None


# The builder's form ---------------------------------------------------------------------------------------


class AgentBuilderState(rx.State):
    loaded: bool = False
    missing: str = ""  # the agent cannot be opened here: why, shown instead of the form
    agent: str = ""  # the saved agent's id ("" while new)
    version: int = 0
    can_edit: bool = True
    can_share: bool = False  # admins: visibility
    dirty: bool = False  # the form differs from what was last loaded or saved
    # The form.
    name: str = ""
    description: str = ""
    avatar: str = ""
    category: str = ""
    instructions: str = ""
    model: str = ""
    temperature: str = ""
    max_tokens: str = ""
    max_steps: str = "5"
    min_plan: str = "free"
    visibility: str = "private"
    tools: list[str] = []
    files: list[str] = []
    knowledge_collections: list[str] = []
    starters: list[str] = []
    # What the form offers.
    model_options: list[dict[str, str]] = []
    default_model: str = "Workspace default"
    tool_options: list[dict[str, str]] = []
    tool_fields: list[
        dict[str, str]
    ] = []  # the chosen tools' settings, as typed (state/agent_tool_fields.py)
    file_options: list[dict[str, str]] = []
    collection_options: list[dict[str, str]] = []
    more_files: bool = False
    categories: list[str] = []
    avatar_uploading: bool = False
    avatar_error: str = ""  # an image refused, beside the avatar
    # Feedback.
    form_error: str = ""  # beside the form (Save)
    notice: str = ""
    error: str = ""
    # Versions.
    versions: list[dict[str, str]] = []
    compare_open: bool = False
    compare_title: str = ""
    changes: list[dict[str, str]] = []
    confirm_delete: bool = False
    # Backend only.
    _tool_settings: dict[str, dict[str, Any]] = {}  # as loaded; the form's are in tool_fields
    _field_specs: dict[str, list[dict[str, str]]] = {}  # tool -> its settings fields
    _names: dict[str, str] = {}  # file and collection ids -> names (for Compare)

    # Helpers -------------------------------------------------------------------------------------------

    async def _run(self, work: Callable[[Ctx], Awaitable[object]], *, where: str = "page") -> bool:
        try:
            ctx = await require_user(self)
            await work(ctx)
        except ServiceError as exc:
            if where == "form":
                self.form_error = str(exc)
            else:
                self.error = str(exc)
            return False
        return True

    def _clear(self) -> None:
        self.form_error = self.notice = self.error = ""

    def draft(self) -> AgentDraft:
        """The form as it is now (what Save stores and Test runs), or a ValidationError naming the field."""
        kept = {n: v for n, v in self._tool_settings.items() if n not in self._field_specs}
        settings = settings_of(self.tool_fields, kept)
        return AgentDraft(
            name=self.name, description=self.description, avatar=self.avatar, category=self.category,
            instructions=self.instructions, model=self.model, temperature=parse_temperature(self.temperature),
            max_tokens=parse_max_tokens(self.max_tokens), max_steps=parse_max_steps(self.max_steps),
            tools=tuple(ToolChoice(n, settings.get(n, {})) for n in self.tools),
            files=_ids(self.files, "files"), collections=_ids(self.knowledge_collections, "collections"),
            starters=tuple(s for s in self.starters if s.strip()), min_plan=self.min_plan,
            visibility=self.visibility,
        )  # fmt: skip

    def _fill(self, draft: AgentDraft | AgentInfo) -> None:
        self.name, self.description, self.avatar = draft.name, draft.description, draft.avatar
        self.category, self.instructions, self.model = draft.category, draft.instructions, draft.model
        self.temperature = "" if draft.temperature is None else f"{draft.temperature:g}"
        self.max_tokens = "" if draft.max_tokens is None else str(draft.max_tokens)
        self.max_steps = str(draft.max_steps)
        self.min_plan, self.visibility = draft.min_plan, draft.visibility
        self.tools = [t.name for t in draft.tools]
        self._tool_settings = {t.name: dict(t.settings) for t in draft.tools}
        self.tool_fields = rows_for(self.tools, self._field_specs, self._tool_settings)
        self.files = [str(f) for f in draft.files]
        self.knowledge_collections = [str(c) for c in draft.collections]
        self.starters = list(draft.starters)
        self.dirty = False

    async def _options(self, ctx: Ctx) -> None:
        """The models, tools, files and collections the form offers this member."""
        catalog = await ai_catalog.catalog(ctx)
        enabled = catalog.enabled
        self.model_options = [{"value": m.key, "label": f"{m.model} ({m.provider_label})"} for m in enabled]
        default = next((m for m in enabled if m.key == catalog.default), None)
        self.default_model = f"Workspace default ({default.model})" if default else "Workspace default"
        tools = await store.available_tools(ctx)  # the built-ins and the workspace's MCP and Composio tools
        connected = await _composio_status(ctx) if any(t.needs.startswith("composio:") for t in tools) else {}
        self.tool_options = [
            {
                "name": t.name,
                "label": tool_label(t.name),
                "description": t.description,
                "needs": needs_label(t, connected),
            }
            for t in tools
        ]
        self._field_specs = {t.name: field_specs(t) for t in tools}
        self.tool_fields = rows_for(self.tools, self._field_specs, self._tool_settings)
        found, self.more_files = await records.list_files(ctx, limit=MAX_FILE_CHOICES)
        self.file_options = [{"id": str(f.id), "name": f.name, "label": f.label} for f in found]
        groups = await collections.list_collections(ctx)
        self.collection_options = [
            {
                "id": str(c.id),
                "name": c.name,
                "count": f"{c.file_count} files" if c.file_count != 1 else "1 file",
            }
            for c in groups
        ]
        self._names = {o["id"]: o["name"] for o in self.file_options + self.collection_options}

    def _keep_chosen_options(self) -> None:
        """A saved choice the member cannot pick any more stays listed (so that it can be unticked)."""
        known = {o["value"] for o in self.model_options}
        if self.model and self.model not in known:
            self.model_options = [
                *self.model_options,
                {"value": self.model, "label": f"{self.model} (not available)"},
            ]
        have = {o["id"] for o in self.file_options}
        self.file_options += [
            {"id": f, "name": "A file you cannot open", "label": ""} for f in self.files if f not in have
        ]
        have = {o["id"] for o in self.collection_options}
        self.collection_options += [
            {"id": c, "name": "A collection you cannot see", "count": ""}
            for c in self.knowledge_collections
            if c not in have
        ]
        names = {t["name"] for t in self.tool_options}
        self.tool_options += [
            {
                "name": t,
                "label": tool_label(t),
                "description": "This tool is no longer in the workspace.",
                "needs": "",
            }
            for t in self.tools
            if t not in names
        ]

    async def _versions(self, ctx: Ctx) -> None:
        if not self.agent:
            self.versions = []
            return
        rows = await store.list_versions(ctx, _agent_uuid(self.agent))
        self.versions = [
            {
                "version": str(v.version),
                "when": _when(v.created_at),
                "name": v.name,
                "by": "by you" if v.author_id == ctx.user_id else "",
                "current": "yes" if v.version == self.version else "",
            }
            for v in rows
        ]

    def _opened(self, ctx: Ctx, agent: AgentInfo) -> None:
        self.agent, self.version = str(agent.id), agent.version
        self.can_edit = may_edit(ctx, agent)
        self._fill(agent)

    # Loading --------------------------------------------------------------------------------------------

    @rx.event
    async def load(self):
        """on_load of /agents/new and /agents/[aid] (after SessionState.load_private)."""
        self.reset()
        wanted = request.path_tail(self, "/agents/")[:40]

        async def work(ctx: Ctx) -> None:
            self.can_share = has(ctx, "agents.manage")
            if wanted == NEW or not wanted:
                if not await may_create(ctx):
                    self.missing = (
                        "In this workspace only owners and admins build agents. Chat with the shared ones on "
                        "the Agents page."
                    )
                    return
            else:
                try:
                    self._opened(ctx, await store.get_agent(ctx, _agent_uuid(wanted)))
                except NotFound as exc:
                    self.missing = str(exc)
                    return
            await self._options(ctx)
            self._keep_chosen_options()
            self.categories = category_choices([], [])
            await self._versions(ctx)

        if await self._run(work):
            self.loaded = True
        else:
            self.missing = self.missing or self.error
            self.loaded = True

    # The form's fields (bound in the page) ------------------------------------------------------------------

    def _changed(self) -> None:
        self.dirty, self.notice = True, ""

    def _edit(self, name: str, value: str, limit: int) -> None:
        setattr(self, name, str(value)[:limit])
        self._changed()

    @rx.event
    def set_name(self, value: str):
        self._edit("name", value, store.MAX_NAME * 2)

    @rx.event
    def set_description(self, value: str):
        self._edit("description", value, store.MAX_DESCRIPTION * 2)

    @rx.event
    def set_avatar(self, value: str):
        self._edit("avatar", value, 32)

    @rx.var
    def avatar_url(self) -> str:
        return avatars.url(self.avatar)

    @rx.event
    async def avatar_uploaded(self, result: Any):
        """What the upload script (assets/avatar.js) got back: {uploading} | {avatar} | {error}."""
        await require_user(self)
        if not isinstance(result, dict):
            return
        self.avatar_uploading = bool(result.get("uploading"))
        self.avatar_error = str(result.get("error") or "")[:300]
        avatar = str(result.get("avatar") or "")
        if avatars.image_hash(avatar):  # the save checks again that it is this workspace's
            self._edit("avatar", avatar, 80)

    @rx.event
    def remove_avatar_image(self):
        self.avatar_error = ""
        self._edit("avatar", "", 80)

    @rx.event
    def set_category(self, value: str):
        self._edit("category", value, store.MAX_CATEGORY * 2)

    @rx.event
    def set_instructions(self, value: str):
        self._edit("instructions", value, store.MAX_INSTRUCTIONS + 1000)

    @rx.event
    def set_model(self, value: str):
        self._edit("model", value, 300)

    @rx.event
    def set_temperature(self, value: str):
        self._edit("temperature", value, 10)

    @rx.event
    def set_max_tokens(self, value: str):
        self._edit("max_tokens", value, 10)

    @rx.event
    def set_max_steps(self, value: str):
        self._edit("max_steps", value, 10)

    @rx.event
    def set_min_plan(self, value: str):
        self._edit("min_plan", value if value in PLAN_TIERS else "free", 20)

    @rx.event
    def set_visibility(self, value: str):
        self._edit("visibility", value if value in VISIBILITY_LABELS else "private", 20)

    @staticmethod
    def _toggled(items: list[str], item: str, on: bool, allowed: Sequence[str]) -> list[str]:
        if on and item in allowed and item not in items:
            return [*items, item]
        return [i for i in items if i != item] if not on else items

    @rx.event
    def toggle_tool(self, name: str, on: bool):
        name = str(name)
        self.tools = self._toggled(self.tools, name, bool(on), [t["name"] for t in self.tool_options])
        rows = [r for r in self.tool_fields if r["tool"] != name]  # the other tools' rows stay as typed
        if name in self.tools:
            rows += rows_for([name], self._field_specs, self._tool_settings)
        self.tool_fields = sorted(
            rows, key=lambda r: self.tools.index(r["tool"])
        )  # stable: fields keep order
        self._changed()

    @rx.event
    def set_tool_field(self, row_id: str, value: str):
        """One of a tool's settings, as typed (checked when saved or tested)."""
        self.tool_fields = [
            {**r, "value": str(value)[:2000]} if r["id"] == row_id else r for r in self.tool_fields
        ]
        self._changed()

    @rx.event
    def toggle_file(self, file_id: str, on: bool):
        self.files = self._toggled(self.files, str(file_id), bool(on), [f["id"] for f in self.file_options])
        self._changed()

    @rx.event
    def toggle_collection(self, collection_id: str, on: bool):
        allowed = [c["id"] for c in self.collection_options]
        self.knowledge_collections = self._toggled(
            self.knowledge_collections, str(collection_id), bool(on), allowed
        )
        self._changed()

    @rx.event
    def set_starter(self, index: int, value: str):
        if 0 <= int(index) < len(self.starters):
            starters = list(self.starters)
            starters[int(index)] = str(value)[: store.MAX_STARTER * 2]
            self.starters = starters
            self._changed()

    @rx.event
    def add_starter(self):
        if len(self.starters) < store.MAX_STARTERS:
            self.starters = [*self.starters, ""]
            self._changed()

    @rx.event
    def remove_starter(self, index: int):
        self.starters = [s for i, s in enumerate(self.starters) if i != int(index)]
        self._changed()

    # Save, versions, delete ---------------------------------------------------------------------------------

    @rx.event
    async def save(self):
        """A new version of the agent (the first one creates it). A refusal is shown beside the form, which keeps
        what was typed."""
        self._clear()
        before = self.version
        created = not self.agent

        async def work(ctx: Ctx) -> None:
            draft = self.draft()
            if created:
                saved = await store.create_agent(ctx, draft)
            else:
                saved = await store.update_agent(ctx, _agent_uuid(self.agent), draft)
            self._opened(ctx, saved)
            await self._versions(ctx)

        if not await self._run(work, where="form"):
            return None
        self.notice = (
            f"No changes to save: this is version {self.version}."
            if self.version == before
            else f"Saved as version {self.version}."
        )
        if created:  # the address becomes the agent's own (a reload opens it), the test chat stays
            return rx.call_script(f"window.history.replaceState(null, '', '/agents/{self.agent}')")
        return None

    @rx.event
    async def save_as_template(self):
        """Admins: the form as one of the workspace's templates (members start from it with "Use template")."""
        self._clear()
        made: list[gallery.TemplateInfo] = []

        async def work(ctx: Ctx) -> None:
            made.append(await gallery.add_template(ctx, self.draft()))

        if await self._run(work, where="form"):
            self.notice = f"“{made[0].name}” is now one of the workspace's templates, on the Agents page."

    @rx.event
    async def compare(self, version: str):
        """What changed: an older version against the current one; the current one against the one before."""
        self._clear()
        try:
            number = int(version)
        except ValueError:
            return
        older, newer = (number - 1, number) if number == self.version else (number, self.version)
        if older < 1:
            self.notice = "Version 1 is the first: there is nothing before it to compare."
            return
        found: list[store.Change] = []

        async def work(ctx: Ctx) -> None:
            found.extend(await store.compare(ctx, _agent_uuid(self.agent), older, newer))

        if await self._run(work, where="form"):
            self.compare_title = (
                f"What version {newer} changed"
                if number == self.version
                else f"Version {older} compared with the current version {newer}"
            )
            self.changes = change_rows(found, self._names)
            self.compare_open = True

    @rx.event
    def close_compare(self, is_open: bool = False):
        if not is_open:
            self.compare_open = False

    @rx.event
    async def restore(self, version: str):
        """The old version becomes the newest (the form shows it; unsaved changes in the form are replaced)."""
        self._clear()
        try:
            number = int(version)
        except ValueError:
            return
        before = self.version

        async def work(ctx: Ctx) -> None:
            self._opened(ctx, await store.restore_version(ctx, _agent_uuid(self.agent), number))
            self._keep_chosen_options()
            await self._versions(ctx)

        if await self._run(work, where="form"):
            self.notice = (
                f"Version {number} is the same as the current one: nothing changed."
                if self.version == before
                else f"Restored version {number}: it is now version {self.version}."
            )

    @rx.event
    def ask_delete(self):
        self._clear()
        self.confirm_delete = True

    @rx.event
    def close_delete(self, is_open: bool = False):
        if not is_open:
            self.confirm_delete = False

    @rx.event
    async def delete(self):
        self.confirm_delete = False
        self._clear()
        name = self.name.strip() or "The agent"

        async def work(ctx: Ctx) -> None:
            await store.delete_agent(ctx, _agent_uuid(self.agent))

        if await self._run(work, where="form"):
            (await self.get_state(AgentsState))._flash = f"Deleted “{name}”. Its past conversations stay."
            return rx.redirect("/agents")
