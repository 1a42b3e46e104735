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
    error: str = ""
    notice: str = ""
    allowed: bool = False

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

    @rx.event
    async def load(self):
        self.error = self.notice = ""
        try:
            await self._refresh()
            self.allowed = True
        except ServiceError as exc:
            self.allowed = False
            self.providers, self.models = [], []
            self.error = str(exc)

    @rx.event
    async def toggle(self, key: str, enabled: bool):
        self.error = self.notice = ""
        try:
            ctx = await require_user(self, "models.manage")
            await ai_catalog.set_model_enabled(ctx, key, enabled)
            await self._refresh()
        except ServiceError as exc:
            self.error = str(exc)

    @rx.event
    async def set_default(self, key: str):
        self.error = self.notice = ""
        try:
            ctx = await require_user(self, "models.manage")
            await ai_catalog.set_default_model(ctx, key)
            await self._refresh()
            self.notice = "Default model saved."
        except ServiceError as exc:
            self.error = str(exc)

    @rx.event
    async def save_provider(self, form: dict):
        self.error = self.notice = ""
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
            )
            await self._refresh()
            self.notice = "Provider saved. Its key is stored encrypted and is never shown again."
        except ServiceError as exc:
            self.error = str(exc)

    @rx.event
    async def remove_provider(self, provider_id: str):
        self.error = self.notice = ""
        try:
            ctx = await require_user(self, "models.manage")
            await ai_catalog.delete_workspace_provider(ctx, provider_id)
            await self._refresh()
            self.notice = f"Removed {provider_id}."
        except ServiceError as exc:
            self.error = str(exc)
