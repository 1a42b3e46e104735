"""Tenants: creation, lookup, and resolution of a request's host to its tenant."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import ACCENT_COLORS, Tenant
from services.config import get_settings
from services.context import Ctx
from services.errors import ValidationError

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
RESERVED_SLUGS = frozenset({"www", "api", "admin", "app", "static", "assets", "mail"})


@dataclass(frozen=True, slots=True)
class TenantInfo:
    """Plain data about a tenant that is safe to show anybody who can reach its host."""

    id: uuid.UUID
    slug: str
    name: str
    display_name: str
    logo_url: str
    accent_color: str
    custom_domain: str


def info(tenant: Tenant) -> TenantInfo:
    return TenantInfo(
        id=tenant.id,
        slug=tenant.slug,
        name=tenant.name,
        display_name=tenant.display_name or tenant.name,
        logo_url=tenant.logo_url or "",
        accent_color=tenant.accent_color,
        custom_domain=tenant.custom_domain or "",
    )


def normalise_host(host: str) -> str:
    """Lower-case host without port or trailing dot."""
    host = host.strip().lower()
    if host.startswith("["):  # IPv6 literal
        return host.split("]")[0] + "]"
    return host.split(":")[0].rstrip(".")


def validate_tenant_fields(
    name: str, slug: str, domain: str | None = None, accent_color: str | None = None
) -> tuple[str, str, str | None]:
    name = name.strip()
    slug = slug.strip().lower()
    if not name:
        raise ValidationError("A tenant needs a name.")
    if len(name) > 200:
        raise ValidationError("The tenant name is too long (200 characters at most).")
    if not SLUG_RE.match(slug):
        raise ValidationError(
            "The slug must be 1-63 lower-case letters, digits or hyphens, and start and end with a letter or digit."
        )
    if slug in RESERVED_SLUGS:
        raise ValidationError(f"The slug '{slug}' is reserved; choose another.")
    if domain is not None:
        domain = normalise_host(domain) or None
        if domain is not None and not DOMAIN_RE.match(domain):
            raise ValidationError(f"'{domain}' is not a valid domain name (for example coach.example.com).")
        base = normalise_host(get_settings().solo_base_domain)
        if domain is not None and base and (domain == base or domain.endswith("." + base)):
            # Custom domains resolve before subdomains: one under the base domain could shadow another tenant.
            raise ValidationError(
                f"'{domain}' is under this server's base domain ({base}); every workspace already has "
                f"<slug>.{base}, so a custom domain must be outside it."
            )
    if accent_color is not None and accent_color not in ACCENT_COLORS:
        raise ValidationError(f"Accent colour must be one of: {', '.join(ACCENT_COLORS)}.")
    return name, slug, domain


async def create_tenant(
    session: AsyncSession,
    *,
    name: str,
    slug: str,
    domain: str | None = None,
    display_name: str | None = None,
    accent_color: str = "indigo",
    logo_url: str | None = None,
    config: dict[str, Any] | None = None,
) -> Tenant:
    name, slug, domain = validate_tenant_fields(name, slug, domain, accent_color)
    taken = await session.exec(select(Tenant).where(Tenant.slug == slug))
    if taken.first() is not None:
        raise ValidationError(f"A tenant with the slug '{slug}' already exists.")
    if domain:
        taken = await session.exec(select(Tenant).where(Tenant.custom_domain == domain))
        if taken.first() is not None:
            raise ValidationError(f"The domain '{domain}' already belongs to another tenant.")
    tenant = Tenant(
        name=name,
        slug=slug,
        custom_domain=domain,
        display_name=(display_name or name).strip(),
        accent_color=accent_color,
        logo_url=logo_url,
        config=config or {},
    )
    session.add(tenant)
    await session.flush()
    return tenant


async def get_by_slug(session: AsyncSession, slug: str) -> Tenant | None:
    return (await session.exec(select(Tenant).where(Tenant.slug == slug.lower()))).first()


async def resolve_host(session: AsyncSession, host: str, base_domain: str | None = None) -> Tenant | None:
    """Custom domain, else `<slug>.<base domain>`, else (the bare base domain or a loopback/IP host) the
    default tenant. Anything else is an unknown workspace: None."""
    settings = get_settings()
    base = normalise_host(base_domain if base_domain is not None else settings.solo_base_domain)
    host = normalise_host(host)
    if host:
        by_domain = (await session.exec(select(Tenant).where(Tenant.custom_domain == host))).first()
        if by_domain is not None:
            return by_domain
        if base and host.endswith("." + base):
            slug = host[: -len(base) - 1]
            if "." in slug:
                return None
            return await get_by_slug(session, slug)
        if host != base and not _is_default_host(host):
            return None
    return await get_by_slug(session, settings.solo_default_tenant)


def _is_default_host(host: str) -> bool:
    """Hosts that always mean the default tenant: loopback names and bare IP addresses."""
    if host in {"localhost", "127.0.0.1", "[::1]", "0.0.0.0"}:
        return True
    return bool(re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", host))


async def count(session: AsyncSession) -> int:
    return int((await session.exec(select(func.count()).select_from(Tenant))).one())


async def list_tenants(session: AsyncSession) -> list[Tenant]:
    return list((await session.exec(select(Tenant).order_by(col(Tenant.created_at)))).all())


_host_cache: dict[str, tuple[float, TenantInfo | None]] = {}
HOST_CACHE_SECONDS = 10.0


async def lookup_host(host: str) -> TenantInfo | None:
    """`resolve_host` with a short in-process cache: every event handler resolves its tenant from the host."""
    import time

    from services.db import global_session

    key = normalise_host(host)
    hit = _host_cache.get(key)
    now = time.monotonic()
    if hit is not None and now - hit[0] < HOST_CACHE_SECONDS:
        return hit[1]
    async with global_session() as session:
        tenant = await resolve_host(session, key)
        found = info(tenant) if tenant is not None else None
    if len(_host_cache) > 10_000:
        _host_cache.clear()
    _host_cache[key] = (now, found)
    return found


async def get_info(tenant_id: uuid.UUID) -> TenantInfo | None:
    """A tenant by id (for services that build links or emails for it)."""
    from services.db import global_session

    async with global_session() as session:
        tenant = await session.get(Tenant, tenant_id)
        return info(tenant) if tenant is not None else None


def public_origin(tenant: TenantInfo) -> str:
    """The tenant's own address for links in emails and redirects: its custom domain, else
    `<slug>.<base domain>` (the bare base domain for the default tenant), with the scheme and port of
    `SOLO_PUBLIC_URL`. Never built from request headers."""
    from services.web import public_scheme_and_port

    settings = get_settings()
    base = normalise_host(settings.solo_base_domain)
    if tenant.custom_domain:
        host = tenant.custom_domain
    elif tenant.slug == settings.solo_default_tenant:
        host = base
    else:
        host = f"{tenant.slug}.{base}"
    scheme, port = public_scheme_and_port()
    return f"{scheme}://{host}{port}"


# Sign-up policy ---------------------------------------------------------------------------------------------

SIGNUP_MODES = ("open", "invite", "domains")


@dataclass(frozen=True, slots=True)
class SignupPolicy:
    """Who may create an account by themselves: anybody ("open"), nobody ("invite": invitations only), or
    addresses at the listed domains ("domains")."""

    mode: str = "open"
    domains: tuple[str, ...] = ()


def signup_policy(tenant: Tenant) -> SignupPolicy:
    raw = (tenant.config or {}).get("signup") or {}
    mode = str(raw.get("mode")) if raw.get("mode") in SIGNUP_MODES else "open"
    return SignupPolicy(mode=mode, domains=tuple(str(d) for d in raw.get("domains") or ()))


def validate_signup_policy(mode: str, domains: list[str] | tuple[str, ...] = ()) -> SignupPolicy:
    mode = mode.strip().lower()
    if mode not in SIGNUP_MODES:
        raise ValidationError(f"Sign-up mode must be one of: {', '.join(SIGNUP_MODES)}.")
    cleaned: list[str] = []
    for raw in domains:
        domain = normalise_host(raw.strip().lstrip("@"))
        if not domain:
            continue
        if not DOMAIN_RE.match(domain):
            raise ValidationError(f"'{raw.strip()}' is not a valid email domain (for example example.com).")
        if domain not in cleaned:
            cleaned.append(domain)
    if len(cleaned) > 50:
        raise ValidationError("List at most 50 domains.")
    if mode == "domains" and not cleaned:
        raise ValidationError(
            "List at least one email domain (for example example.com), or choose another mode."
        )
    return SignupPolicy(mode=mode, domains=tuple(cleaned) if mode == "domains" else ())


async def get_signup_policy(tenant_id: uuid.UUID) -> SignupPolicy:
    from services.db import global_session

    async with global_session() as session:
        tenant = await session.get(Tenant, tenant_id)
        return signup_policy(tenant) if tenant is not None else SignupPolicy()


async def set_signup_policy(ctx: Ctx, mode: str, domains: list[str] | tuple[str, ...] = ()) -> SignupPolicy:
    """Owners and admins choose how people join their workspace."""
    from services.auth import audit
    from services.auth.roles import require
    from services.db import global_session, tenant_session

    require(ctx, "members.manage")
    policy = validate_signup_policy(mode, domains)
    async with global_session() as session:
        tenant = await session.get(Tenant, ctx.tenant_id, with_for_update=True)
        if tenant is None:
            raise ValidationError("This workspace no longer exists.")
        tenant.config = {
            **(tenant.config or {}),
            "signup": {"mode": policy.mode, "domains": list(policy.domains)},
        }
        session.add(tenant)
    async with tenant_session(ctx.tenant_id) as session:
        audit.record(
            session,
            ctx.tenant_id,
            "tenant.signup_policy",
            actor=ctx.user_id,
            ip=ctx.ip,
            mode=policy.mode,
            domains=list(policy.domains),
        )
    return policy
