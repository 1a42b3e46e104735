"""Settings → Storage: admins (tenant.brand) see the workspace's storage use and may lower its quota."""

from __future__ import annotations

import reflex as rx

from services.config import get_settings
from services.errors import ServiceError
from services.files import records
from state.session import require_user

MB = records.MB


def mb(n: int) -> str:
    """Bytes as MB for people: 0 MB, 0.4 MB, 12.5 MB, 20,480 MB."""
    value = n / MB
    if value == 0:
        return "0 MB"
    if value < 0.1:
        return "under 0.1 MB"
    return f"{value:,.1f}".removesuffix(".0") + " MB"


class StorageState(rx.State):
    allowed: bool = False  # the section shows only for those who may change it (the server checks again)
    used: str = ""  # "12.5 MB"
    quota: str = ""  # the quota in force, "500 MB"
    server_limit: str = ""  # the server's limit, "20,480 MB"
    own_quota: bool = False  # the workspace has lowered its quota below the server's
    quota_mb: str = ""  # the form's value
    error: str = ""
    notice: str = ""
    form_key: int = 0  # changes to refill the form after a save (kept as typed after an error)

    async def _refresh(self) -> None:
        ctx = await require_user(self, "tenant.brand")
        use = await records.usage(ctx)
        limit = get_settings().storage_quota_tenant_mb * MB
        self.used, self.quota, self.server_limit = mb(use.tenant_bytes), mb(use.tenant_quota), mb(limit)
        self.own_quota = use.tenant_quota < limit
        self.quota_mb = str(use.tenant_quota // MB) if self.own_quota else ""
        self.form_key += 1

    @rx.event
    async def load(self):
        self.error = self.notice = ""
        try:
            await self._refresh()
            self.allowed = True
        except ServiceError:
            self.allowed = False  # members do not see the section at all

    @rx.event
    async def save(self, form: dict):
        self.error = self.notice = ""
        try:
            ctx = await require_user(self, "tenant.brand")
            raw = str(form.get("quota_mb", "")).strip().replace(",", "")
            if not raw.isdigit():
                limit = get_settings().storage_quota_tenant_mb
                self.error = (
                    f"Enter the quota as a whole number of MB, from 1 to {limit:,} (the server's limit)."
                )
                return
            await records.set_tenant_quota(ctx, int(raw))
            await self._refresh()
        except ServiceError as exc:
            self.error = str(exc)
            return
        self.notice = f"Saved: this workspace may store up to {self.quota}."

    @rx.event
    async def use_server_limit(self):
        self.error = self.notice = ""
        try:
            ctx = await require_user(self, "tenant.brand")
            await records.set_tenant_quota(ctx, None)
            await self._refresh()
        except ServiceError as exc:
            self.error = str(exc)
            return
        self.notice = f"Saved: this workspace uses the server's limit ({self.server_limit})."
