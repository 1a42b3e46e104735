"""Admin → Models: the workspace's providers (keys never sent back), enabled models, the default."""

from __future__ import annotations

import reflex as rx

from services import ai_catalog
from services.errors import ServiceError
from state.session import require_user


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

    def _clear(self) -> None:
        self.error = self.notice = self.add_error = self.add_notice = ""
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
            self.providers, self.models = [], []
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
