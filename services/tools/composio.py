"""Composio toolkits as agent tools (the `composio` SDK 0.30; docs/research/agents-sdks.md has the facts).

Which key: the workspace's own Composio API key (entered by its admins, stored encrypted like provider keys), else
the operator's COMPOSIO_API_KEY (COMPOSIO_BASE_URL points the SDK elsewhere, for tests); a key an admin enters is
tried against Composio before it is stored. Which toolkits: those the workspace enables
(`tenants.config.composio.toolkits`; by default web search `composio_search` and GoHighLevel `highlevel`). Each
toolkit tool becomes an agent tool `composio_<slug>`; its calls run as the member: the Composio `user_id` is
`<tenant id>:<user id>`, made here, never taken from a browser, so a member's connected accounts (their
GoHighLevel login) are theirs only. A member connects a toolkit that needs an account through `connect` (a
redirect URL to Composio's hosted sign-in) and sees its status with `connections`.

The SDK is synchronous: every call runs in a worker thread (`asyncio.to_thread`), with its telemetry switched off
in that thread (the SDK's off switch is a context variable) and a timeout (its default is none). It is imported
only when a workspace uses Composio (the import takes seconds).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.orm.attributes import flag_modified

from models import Tenant
from services import crypto
from services.auth import audit
from services.auth.roles import require
from services.config import get_settings
from services.context import Ctx
from services.db import global_session, tenant_session
from services.errors import NotFound, ValidationError
from services.tools.base import Tool, ToolContext, ToolError, ToolResult

log = logging.getLogger("solo.tools.composio")

DEFAULT_TOOLKITS = ("composio_search", "highlevel")
TOOLKIT_LABELS = {"composio_search": "Web search", "highlevel": "GoHighLevel"}
NO_ACCOUNT_NEEDED = ("composio_search",)
TIMEOUT = 30.0
CHECK_TIMEOUT = 10.0  # seconds an admin waits for Composio to accept a key before it is saved
LIST_TTL = 300.0  # seconds a workspace's tool list is reused
MAX_TOOLS_PER_TOOLKIT = 50
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ComposioSettings:
    api_key: str  # "" when there is none
    base_url: str
    toolkits: tuple[str, ...]
    own_key: bool  # the workspace entered its own


async def _tenant_config(tenant_id: uuid.UUID) -> dict[str, Any]:
    async with global_session() as session:
        tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("This workspace no longer exists.")
    raw = (tenant.config or {}).get("composio")
    return dict(raw) if isinstance(raw, dict) else {}


async def settings_of(tenant_id: uuid.UUID) -> ComposioSettings:
    raw = await _tenant_config(tenant_id)
    server = get_settings()
    own = raw.get("api_key_encrypted")
    key = crypto.decrypt(own) if own else server.composio_api_key
    toolkits = raw.get("toolkits")
    kits = tuple(str(k).lower() for k in toolkits) if isinstance(toolkits, list) else DEFAULT_TOOLKITS
    return ComposioSettings(key, server.composio_base_url, kits, bool(own))


async def set_composio(ctx: Ctx, *, api_key: str | None = None, toolkits: list[str] | None = None) -> None:
    """Admins: the workspace's own API key ("" goes back to the operator's) and its enabled toolkits. A new key
    is tried against Composio first, so a wrong one is refused here rather than in a member's turn later."""
    require(ctx, "agents.manage")
    changes: dict[str, Any] = {}
    if toolkits is not None:
        kits = sorted({k.strip().lower() for k in toolkits if k.strip()})
        if any(not k.replace("_", "").isalnum() or len(k) > 60 for k in kits):
            raise ValidationError(
                "A toolkit is named by its Composio slug, such as highlevel or composio_search."
            )
        changes["toolkits"] = kits
    key = api_key.strip() if api_key is not None else None
    if key:
        await _check_key(ctx, key)  # before the row lock: no transaction waits on Composio
    async with global_session() as session:
        tenant = await session.get(Tenant, ctx.tenant_id, with_for_update=True)
        if tenant is None:
            raise NotFound("This workspace no longer exists.")
        config = dict(tenant.config or {})
        current = dict(config.get("composio") or {})
        if key is not None:
            current["api_key_encrypted"] = crypto.encrypt(key) if key else None
        current.update(changes)
        config["composio"] = current
        tenant.config = config
        flag_modified(tenant, "config")
        session.add(tenant)
    _lists.clear()
    async with tenant_session(ctx.tenant_id) as session:
        audit.record(
            session, ctx.tenant_id, "composio.settings", actor=ctx.user_id, ip=ctx.ip,
            key_changed=api_key is not None, **changes,
        )  # fmt: skip


async def _check_key(ctx: Ctx, api_key: str) -> None:
    """One cheap read that needs the key (the project's first auth config): a ValidationError unless Composio
    accepts it. The key itself never reaches a message or the log."""
    cfg = ComposioSettings(api_key, get_settings().composio_base_url, (), True)
    try:
        await asyncio.to_thread(_load_sdk)  # the first import takes seconds: not part of the wait
        await asyncio.wait_for(
            _call(cfg, lambda c: c.auth_configs.list(limit=1), probe=CHECK_TIMEOUT), CHECK_TIMEOUT
        )
    except Exception as exc:
        status = getattr(exc, "status_code", None)
        log.warning(
            "Composio did not accept a new API key for %s (%s%s)",
            ctx.tenant_id, type(exc).__name__, f", HTTP {status}" if status else "",
        )  # fmt: skip
        raise ValidationError(_check_failure(exc, api_key)) from exc


def _check_failure(exc: Exception, api_key: str) -> str:
    from composio_client import APIConnectionError

    status = getattr(exc, "status_code", None)
    if status in (401, 403):
        return (
            f"Composio refused this API key (HTTP {status}): check that it is the whole key of your Composio "
            "project, then enter it again. Nothing was saved."
        )
    if isinstance(exc, (APIConnectionError, TimeoutError)):
        return (
            "Composio could not be reached to check this API key, so it was not saved: check the server's "
            "COMPOSIO_BASE_URL and its network access to Composio, then try again."
        )
    if status:
        return (
            f"Composio could not check this API key (it answered HTTP {status}), so it was not saved: try again "
            "in a moment, or check the server's COMPOSIO_BASE_URL."
        )
    text = " ".join(str(exc).replace(api_key, "…").split())[:200]
    return (
        f"Composio could not check this API key ({type(exc).__name__}{': ' + text if text else ''}), so it was "
        "not saved: check the server's COMPOSIO_BASE_URL."
    )


def user_id_for(ctx: Ctx) -> str:
    """The Composio user a member is: namespaced by workspace, never from the browser."""
    return f"{ctx.tenant_id}:{ctx.user_id}"


# The SDK, in a thread ---------------------------------------------------------------------------------------

_clients: dict[str, Any] = {}


def _load_sdk() -> None:
    import composio  # noqa: F401  (seconds the first time)


_warming: set[asyncio.Future[None]] = set()


def warm_up() -> None:
    """Start importing the SDK in a worker thread, so that an admin who opened Admin → Tools and saves a key
    does not wait the first import's seconds. Returns at once."""
    if "composio" in sys.modules:
        return
    task = asyncio.ensure_future(asyncio.to_thread(_load_sdk))
    _warming.add(task)
    task.add_done_callback(_warming.discard)


def _new_client(cfg: ComposioSettings, timeout: float, max_retries: int | None = None) -> Any:
    from composio import Composio  # seconds to import: only when used

    options: dict[str, Any] = {"api_key": cfg.api_key, "allow_tracking": False, "timeout": timeout}
    if max_retries is not None:
        options["max_retries"] = max_retries
    if cfg.base_url:
        options["base_url"] = cfg.base_url
    return Composio(**options)


def _client(cfg: ComposioSettings) -> Any:
    fingerprint = hashlib.sha256(f"{cfg.api_key}\n{cfg.base_url}".encode()).hexdigest()
    client = _clients.get(fingerprint)
    if client is None:
        client = _clients[fingerprint] = _new_client(cfg, TIMEOUT)
    return client


async def _call(cfg: ComposioSettings, work: Callable[[Any], T], *, probe: float | None = None) -> T:
    """`work` on the workspace's cached client; with `probe` (seconds), on a one-off client with that timeout and
    no retries (a key being checked may be wrong: it is not kept)."""

    def run() -> T:
        from composio.core.models.base import allow_tracking

        allow_tracking.set(False)  # this thread's context: no telemetry leaves the server
        client = _client(cfg) if probe is None else _new_client(cfg, probe, max_retries=0)
        return work(client)

    return await asyncio.to_thread(run)


def _message(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    if status in (401, 403):
        return "Composio refused the workspace's API key: an admin can enter it again."
    text = " ".join(str(exc).split())[:300]
    return f"Composio could not do it ({type(exc).__name__}{': ' + text if text else ''})."


# Tools -------------------------------------------------------------------------------------------------------


class ComposioTool(Tool):
    def __init__(self, cfg: ComposioSettings, listed: Any) -> None:
        slug = str(listed.slug)
        kit = str(getattr(listed.toolkit, "slug", "") or "").lower()
        self.name = f"composio_{slug.lower()}"[:64]  # type: ignore[misc]
        label = TOOLKIT_LABELS.get(kit, kit)
        self.description = f"{(listed.description or slug).strip()} ({label})"[:1000]  # type: ignore[misc]
        schema = listed.input_parameters if isinstance(listed.input_parameters, dict) else {}
        self.parameters = schema if schema.get("type") == "object" else {"type": "object", "properties": {}}  # type: ignore[misc]
        self.timeout = TIMEOUT + 5  # type: ignore[misc]
        self.needs = "" if kit in NO_ACCOUNT_NEEDED else f"composio:{kit}"  # type: ignore[misc]
        self._slug, self._version, self._kit, self._cfg = slug, str(listed.version or ""), kit, cfg

    async def run(self, call: ToolContext, arguments: dict[str, Any]) -> ToolResult:
        user = user_id_for(call.ctx)
        try:
            result = await _call(
                self._cfg,
                lambda c: c.tools.execute(
                    self._slug, arguments, user_id=user, version=self._version or None,
                    dangerously_skip_version_check=not self._version or None,
                ),
            )  # fmt: skip
        except Exception as exc:
            status = getattr(exc, "status_code", None)
            raise ToolError(_message(exc), retryable=status in (429, 500, 502, 503, 504)) from exc
        data = result.get("data") if isinstance(result, dict) else None
        if not (isinstance(result, dict) and result.get("successful")):
            error = str((result or {}).get("error") or "The tool reported a failure.")
            if self.needs:
                error += (
                    f" (Connect {TOOLKIT_LABELS.get(self._kit, self._kit)} under Settings → Connections.)"
                )
            raise ToolError(error)
        return ToolResult(text=json.dumps(data, ensure_ascii=False), data=data)


_lists: dict[tuple[uuid.UUID, str], tuple[float, list[Any]]] = {}


async def workspace_tools(ctx: Ctx) -> list[Tool]:
    """The workspace's Composio tools (none without a key; a Composio that cannot be reached is logged and
    lists none)."""
    cfg = await settings_of(ctx.tenant_id)
    if not cfg.api_key or not cfg.toolkits:
        return []
    key = (ctx.tenant_id, hashlib.sha256(f"{cfg.api_key}{cfg.base_url}{cfg.toolkits}".encode()).hexdigest())
    hit = _lists.get(key)
    if hit is None or time.monotonic() - hit[0] > LIST_TTL:
        try:
            listed = await _call(
                cfg,
                lambda c: c.tools.get_raw_composio_tools(
                    toolkits=list(cfg.toolkits), limit=MAX_TOOLS_PER_TOOLKIT * len(cfg.toolkits)
                ),
            )
        except Exception as exc:
            log.warning("Composio tools could not be listed for %s: %s", ctx.tenant_id, _message(exc))
            return []
        hit = _lists[key] = (time.monotonic(), list(listed))
    return [ComposioTool(cfg, t) for t in hit[1]]


# Members' connections ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Connection:
    toolkit: str
    label: str
    status: str  # ACTIVE, INITIATED, EXPIRED, ... or "" when not connected
    needs_account: bool


async def connections(ctx: Ctx) -> list[Connection]:
    """Each enabled toolkit and the member's connection to it (Settings → Connections)."""
    require(ctx, "settings.own")
    cfg = await settings_of(ctx.tenant_id)
    if not cfg.api_key:
        return []
    user = user_id_for(ctx)
    try:
        found = await _call(cfg, lambda c: c.connected_accounts.list(user_ids=[user]))
    except Exception as exc:
        raise ValidationError(_message(exc)) from exc
    status: dict[str, str] = {}
    for account in getattr(found, "items", []) or []:
        kit = str(getattr(account.toolkit, "slug", "") or "").lower()
        if status.get(kit) != "ACTIVE":
            status[kit] = str(account.status)
    return [
        Connection(k, TOOLKIT_LABELS.get(k, k), "ACTIVE" if k in NO_ACCOUNT_NEEDED else status.get(k, ""),
                   k not in NO_ACCOUNT_NEEDED)
        for k in cfg.toolkits
    ]  # fmt: skip


async def connect(ctx: Ctx, toolkit: str, callback_url: str) -> str:
    """Start connecting the member's account of `toolkit`: the URL of Composio's hosted sign-in."""
    require(ctx, "settings.own")
    cfg = await settings_of(ctx.tenant_id)
    toolkit = toolkit.lower()
    if not cfg.api_key or toolkit not in cfg.toolkits:
        raise ValidationError("That toolkit is not enabled in this workspace.")
    if toolkit in NO_ACCOUNT_NEEDED:
        raise ValidationError("That toolkit needs no account.")
    user = user_id_for(ctx)

    def link(c: Any) -> str:
        configs = c.auth_configs.list(toolkit_slug=toolkit)
        items = getattr(configs, "items", []) or []
        if not items:
            raise ValidationError(
                f"Composio has no sign-in set up for {toolkit}: an admin can add one there."
            )
        request = c.connected_accounts.link(user, items[0].id, callback_url=callback_url, allow_multiple=True)
        return str(request.redirect_url)

    try:
        return await _call(cfg, link)
    except ValidationError:
        raise
    except Exception as exc:
        raise ValidationError(_message(exc)) from exc


@dataclass(frozen=True, slots=True)
class ComposioAdmin:
    source: str  # "workspace": its own key; "server": the operator's COMPOSIO_API_KEY; "none"
    toolkits: tuple[str, ...]


async def admin_view(ctx: Ctx) -> ComposioAdmin:
    """What Admin → Tools shows (never the key itself)."""
    require(ctx, "agents.manage")
    cfg = await settings_of(ctx.tenant_id)
    source = "workspace" if cfg.own_key else ("server" if cfg.api_key else "none")
    return ComposioAdmin(source, cfg.toolkits)
