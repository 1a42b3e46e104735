"""Admin → Models: the workspace's providers (keys never sent back), enabled models, the default, the
embeddings model of its knowledge search, and its memory (on or off, and the memory model)."""

from __future__ import annotations

import reflex as rx

from services import ai_catalog
from services.context import Ctx
from services.errors import ServiceError
from services.knowledge import embed
from services.memory import settings as memory_settings
from state.session import require_user

SERVER_DEFAULT = ""  # the provider select's value for "the server's choice"


def _describe(m: embed.EmbeddingsModel) -> str:
    size = f"{m.dim} dimensions" if m.dim else "the model's own size"
    return f"{m.model} on {m.label} ({size})"


class AdminModelsState(rx.State):
    providers: list[dict[str, str]] = []
    models: list[dict[str, str]] = []
    default: str = ""
    error: str = ""  # the page's own actions (models, default, removal)
    notice: str = ""
    allowed: bool = False
    # The "Add a provider" form: its own outcome, shown inside it. The typed values live in the browser's
    # form (the API key never comes back here); `form_key` changes to empty the form after a save.
    add_error: str = ""
    add_notice: str = ""
    add_unreachable: bool = False  # the provider did not answer: offer "Save anyway"
    form_key: int = 0
    # Removing a provider asks first.
    remove_open: bool = False
    remove_label: str = ""
    _remove_id: str = ""
    # Embeddings: the choice in use, the form's options and defaults (`emb_form_key` refills it after a save).
    emb_providers: list[dict[str, str]] = []
    emb_provider: str = SERVER_DEFAULT
    emb_model: str = ""
    emb_dim: str = "0"
    emb_current: str = ""
    emb_source: str = ""  # workspace | server | none
    emb_server: str = ""  # the label of the "Server default" option
    emb_problem: str = ""
    emb_error: str = ""
    emb_notice: str = ""
    emb_saving: bool = False
    emb_form_key: int = 0
    _emb_summary: str = ""
    # Memory: on for the workspace, and the model that extracts memories ("" = each conversation's own).
    mem_enabled: bool = True
    mem_model: str = ""
    mem_error: str = ""
    mem_notice: str = ""

    async def _refresh_embeddings(self, ctx: Ctx) -> None:
        choice = await embed.current_choice(ctx)
        self.emb_providers = [{"id": pid, "label": f"{label} ({pid})"} for pid, label in choice.providers]
        self.emb_server = (
            "Server default: " + _describe(choice.server)
            if choice.server is not None
            else "Server default: none, keyword search only"
        )
        if choice.current is None:
            self.emb_current = "None: search uses keywords only."
        elif choice.source == "workspace":
            self.emb_current = _describe(choice.current) + ", chosen for this workspace."
        else:
            self.emb_current = _describe(choice.current) + ", the server's default."
        self.emb_source, self.emb_problem = choice.source, choice.problem
        self._emb_summary = _describe(choice.current) if choice.current is not None else ""
        own = choice.current if choice.source == "workspace" else None  # None too when its provider is gone
        self.emb_provider = own.provider_id if own is not None else SERVER_DEFAULT
        self.emb_model = own.model if own is not None else ""
        self.emb_dim = str(own.dim) if own is not None else "0"
        self.emb_form_key += 1

    async def _refresh(self) -> None:
        ctx = await require_user(self, "models.manage")
        cat = await ai_catalog.catalog(ctx)
        self.providers = [
            {
                "id": p.id,
                "label": p.label,
                "kind": p.kind,
                "base_url": p.base_url,
                "source": p.source,
                "key_hint": p.key_hint or "none",
                "count": str(len(p.models)),
                "error": p.error,
            }
            for p in cat.providers
        ]
        self.models = [
            {"key": m.key, "label": f"{m.provider_label} · {m.model}", "enabled": "yes" if m.enabled else ""}
            for m in cat.models
        ]
        self.default = cat.default or ""
        await self._refresh_embeddings(ctx)
        chosen = await memory_settings.current(ctx)
        self.mem_enabled, self.mem_model = chosen.enabled, chosen.model

    def _clear(self) -> None:
        self.error = self.notice = self.add_error = self.add_notice = ""
        self.emb_error = self.emb_notice = ""
        self.mem_error = self.mem_notice = ""
        self.add_unreachable = False

    @rx.event
    async def load(self):
        self._clear()
        self.remove_open, self.remove_label, self._remove_id = False, "", ""
        try:
            await self._refresh()
            self.allowed = True
        except ServiceError as exc:
            self.allowed = False
            self.providers, self.models, self.emb_providers = [], [], []
            self.error = str(exc)

    @rx.event
    async def toggle(self, key: str, enabled: bool):
        self._clear()
        try:
            ctx = await require_user(self, "models.manage")
            await ai_catalog.set_model_enabled(ctx, key, enabled)
            await self._refresh()
        except ServiceError as exc:
            self.error = str(exc)

    @rx.event
    async def set_default(self, key: str):
        self._clear()
        try:
            ctx = await require_user(self, "models.manage")
            await ai_catalog.set_default_model(ctx, key)
            await self._refresh()
            self.notice = "Default model saved."
        except ServiceError as exc:
            self.error = str(exc)

    @rx.event
    async def save_provider(self, form: dict):
        """The form's submit. `force` ("Save anyway") skips the check that the provider answers."""
        self._clear()
        force = str(form.get("force", "")) == "yes"
        label = str(form.get("label", "")).strip() or str(form.get("provider_id", "")).strip()
        try:
            ctx = await require_user(self, "models.manage")
            await ai_catalog.save_workspace_provider(
                ctx,
                provider_id=str(form.get("provider_id", "")),
                kind=str(form.get("kind", "openai_compatible")),
                label=str(form.get("label", "")),
                base_url=str(form.get("base_url", "")),
                api_key=str(form.get("api_key", "")),
                models=str(form.get("models", "")).split(","),
                check=not force,
            )
            await self._refresh()
        except ai_catalog.ProviderUnreachable as exc:
            self.add_error, self.add_unreachable = str(exc), True
            return
        except ServiceError as exc:
            self.add_error = str(exc)
            return
        self.form_key += 1  # empties the form
        keynote = " Its key is stored encrypted and is never shown again." if form.get("api_key") else ""
        if force:
            self.add_notice = (
                f"Saved {label} without reaching it: it offers no models until it answers.{keynote}"
            )
        else:
            self.add_notice = f"Saved {label}: it answered.{keynote}"

    @rx.event
    async def ask_remove(self, provider_id: str):
        """Open the confirmation for removing a workspace provider (nothing is removed yet)."""
        self._clear()
        try:
            await require_user(self, "models.manage")
        except ServiceError as exc:
            self.error = str(exc)
            return
        row = next((p for p in self.providers if p["id"] == provider_id and p["source"] == "workspace"), None)
        if row is None:
            self.error = "That provider is no longer listed. Reload the page."
            return
        self._remove_id, self.remove_label, self.remove_open = provider_id, row["label"], True

    @rx.event
    def remove_dialog_changed(self, is_open: bool):
        if not is_open:  # Cancel, Escape or a click outside
            self.remove_open, self.remove_label, self._remove_id = False, "", ""

    @rx.event
    async def confirm_remove(self):
        provider_id, label = self._remove_id, self.remove_label
        self.remove_open, self._remove_id = False, ""
        self._clear()
        if not provider_id:
            return
        try:
            ctx = await require_user(self, "models.manage")
            await ai_catalog.delete_workspace_provider(ctx, provider_id)
            await self._refresh()
            self.notice = f"Removed {label}."
        except ServiceError as exc:
            self.error = str(exc)

    @rx.event
    async def choose_embeddings_provider(self, provider_id: str):
        """The provider select (the model and dimension fields show only for a workspace choice)."""
        try:
            await require_user(self, "models.manage")
        except ServiceError as exc:
            self.emb_error = str(exc)
            return
        if provider_id == SERVER_DEFAULT or any(p["id"] == provider_id for p in self.emb_providers):
            self.emb_provider = provider_id

    @rx.event
    async def save_embeddings(self, form: dict):
        """Save: the chosen provider's model is asked to embed one text first (it may take a few seconds)."""
        self._clear()
        provider_id = str(form.get("emb_provider", self.emb_provider))
        model = str(form.get("emb_model", ""))
        try:
            dim = int(str(form.get("emb_dim", "0")).strip() or "0")
        except ValueError:
            dim = -1  # refused by the service, with its message
        self.emb_provider, self.emb_saving = provider_id, True
        yield  # the button shows that it is working
        try:
            ctx = await require_user(self, "models.manage")
            await embed.set_embeddings(ctx, provider_id, model, dim)
            await self._refresh_embeddings(ctx)
        except (ServiceError, embed.EmbeddingError) as exc:
            self.emb_error = str(exc)  # the form keeps what was typed
            return
        finally:
            self.emb_saving = False
        if self.emb_source == "workspace":
            self.emb_notice = f"Saved: it answered. Knowledge is now embedded with {self._emb_summary}."
        else:
            what = self._emb_summary or "none, keyword search only"
            self.emb_notice = f"Saved: this workspace uses the server's default ({what})."

    @rx.event
    async def set_memory_enabled(self, on: bool):
        """The switch (saved with "Save memory settings")."""
        try:
            await require_user(self, "models.manage")
        except ServiceError as exc:
            self.mem_error = str(exc)
            return
        self.mem_enabled = bool(on)

    @rx.event
    async def choose_memory_model(self, key: str):
        try:
            await require_user(self, "models.manage")
        except ServiceError as exc:
            self.mem_error = str(exc)
            return
        if key == "" or any(m["key"] == key for m in self.models):
            self.mem_model = key

    @rx.event
    async def save_memory(self):
        self._clear()
        try:
            ctx = await require_user(self, "models.manage")
            chosen = await memory_settings.set_workspace_memory(
                ctx, enabled=self.mem_enabled, model=self.mem_model
            )
        except ServiceError as exc:
            self.mem_error = str(exc)
            return
        self.mem_enabled, self.mem_model = chosen.enabled, chosen.model
        if not chosen.enabled:
            self.mem_notice = (
                "Saved: memory is off for everyone in this workspace. Members' memories are kept, unused."
            )
        else:
            label = next((m["label"] for m in self.models if m["key"] == chosen.model), chosen.model)
            model = label or "each conversation's own model"
            self.mem_notice = f"Saved: memory is on; memories are extracted with {model}."
