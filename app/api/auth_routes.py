"""Sign-in HTTP routes: the login-ticket hand-off, log-out, OAuth start and callback.

Every route resolves the tenant from the request's host itself and checks who is asking from the cookies;
nothing trusts the browser's word for either.
"""

from __future__ import annotations

import logging
from urllib.parse import quote, urlsplit

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from app.api.cookies import (
    clear_cookie,
    clear_session_cookie,
    request_cookie,
    set_oauth_binding,
    set_session_cookie,
)
from services import tenants, web
from services.auth import accounts, oauth
from services.auth.secrets import new_token
from services.context import TenantCtx
from services.errors import NotFound, ServiceError
from state.request import LOGIN_BINDING_COOKIE, OAUTH_BINDING_COOKIE, parse_cookie

log = logging.getLogger("solo.api")

NO_WORKSPACE = "No such workspace."
NO_BINDING = "Your browser did not keep the sign-in cookie. Reload the page, allow cookies, and log in again."
CROSS_SITE = "This request did not come from this site's own pages, so it was refused."
PROVIDER_DOWN = "Could not reach the sign-in provider. Try again later."
PROVIDER_CANCELLED = "You cancelled the sign-in at the provider. Start again when you are ready."
PROVIDER_REFUSED = "The sign-in provider refused the request. Start again."
NOT_CONFIGURED = "This sign-in method is not configured on this server."


def _configured(provider: str) -> bool:
    """The path segment names a configured provider (checked before any text derived from it is shown)."""
    return provider in {p.id for p in oauth.configured_providers()}


def _host(request: Request) -> str:
    return web.request_host(request.headers.get("host", ""), request.headers)


def _ip(request: Request) -> str:
    return web.client_ip(request.client.host if request.client else "", request.headers)


def _cookies(request: Request) -> str:
    return request.headers.get("cookie", "")


async def _tenant(request: Request) -> TenantCtx | None:
    found = await tenants.lookup_host(_host(request))
    if found is None:
        return None
    return TenantCtx(
        tenant_id=found.id, ip=_ip(request), user_agent=web.user_agent(request.headers.get("user-agent", ""))
    )


def same_origin(request: Request) -> bool:
    """True unless the browser says the request came from another site (Sec-Fetch-Site, else Origin).

    Clients that send neither (old browsers, scripts) are let through: they carry no ambient credentials
    from another site's page."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site != "same-origin":
        return False
    origin = request.headers.get("origin")
    if origin is not None:
        netloc = urlsplit(origin).netloc.lower() if origin != "null" else ""
        if not netloc or netloc != _host(request).lower():
            return False
    return True


def _problem(message: str, status: int = 400) -> Response:
    return PlainTextResponse(message, status_code=status)


async def complete_login(request: Request) -> Response:
    """Swap a 60-second login ticket (from the sign-in form) for the HttpOnly session cookie. The ticket
    redeems only with the login-binding cookie of the browser whose form asked for it."""
    tctx = await _tenant(request)
    if tctx is None:
        return _problem(NO_WORKSPACE, 404)
    binding = request_cookie(_cookies(request), LOGIN_BINDING_COOKIE)
    if not binding:
        return RedirectResponse(f"/login?error={quote(NO_BINDING)}", status_code=303)
    try:
        token, expires = await accounts.redeem_login_ticket(
            tctx, request.query_params.get("ticket", ""), binding=binding
        )
    except ServiceError as exc:
        return RedirectResponse(f"/login?error={quote(str(exc))}", status_code=303)
    response = RedirectResponse(web.safe_next(request.query_params.get("next")), status_code=303)
    set_session_cookie(response, token, expires)
    return response


async def logout(request: Request) -> Response:
    """POST only, from our own pages: revoke the session and clear the cookie.

    GET is routed here too and refused, so that it cannot fall through to the frontend mounted after us."""
    if request.method != "POST":
        return PlainTextResponse(
            "Log out with the Log out button.", status_code=405, headers={"Allow": "POST"}
        )
    if not same_origin(request):
        return _problem(CROSS_SITE, 403)
    tctx = await _tenant(request)
    if tctx is not None:
        ctx = await accounts.authenticate(tctx.tenant_id, parse_cookie(_cookies(request)))
        if ctx is not None:
            await accounts.log_out(ctx)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response)
    return response


def _callback_url(request: Request, provider: str) -> str:
    scheme = web.request_scheme(request.url.scheme, request.headers)
    return f"{scheme}://{_host(request)}/auth/oauth/{provider}/callback"


async def oauth_start(request: Request) -> Response:
    """Redirect to the provider. `?mode=link`: a signed-in user connects the provider to their account."""
    tctx = await _tenant(request)
    if tctx is None:
        return _problem(NO_WORKSPACE, 404)
    provider = request.path_params["provider"]
    if not _configured(provider):
        return _problem(NOT_CONFIGURED, 404)
    link_user_id = None
    if request.query_params.get("mode") == "link":
        if not same_origin(request):
            return _problem(CROSS_SITE, 403)
        ctx = await accounts.authenticate(tctx.tenant_id, parse_cookie(_cookies(request)), ip=tctx.ip)
        if ctx is None:
            return RedirectResponse(
                f"/login?error={quote('Log in first, then connect it from Settings.')}", 303
            )
        link_user_id = ctx.user_id
    binding = new_token()
    try:
        url = await oauth.start(
            tctx, provider, _callback_url(request, provider), binding=binding, link_user_id=link_user_id
        )
    except NotFound:
        return _problem(NOT_CONFIGURED, 404)
    except ServiceError as exc:  # fixed texts from the service (provider unavailable)
        return _problem(str(exc), 502)
    except Exception:  # anything else talking to the provider: logged, never shown
        log.exception("oauth start failed for %s", provider)
        return _problem(PROVIDER_DOWN, 502)
    response = RedirectResponse(url, status_code=302)
    set_oauth_binding(response, binding)
    return response


async def oauth_callback(request: Request) -> Response:
    tctx = await _tenant(request)
    if tctx is None:
        return _problem(NO_WORKSPACE, 404)
    provider = request.path_params["provider"]
    if not _configured(provider):
        return _problem(NOT_CONFIGURED, 404)
    error = request.query_params.get("error")
    if error:
        log.info(
            "oauth %s: provider returned error=%r description=%r",
            provider[:40],
            error[:100],
            request.query_params.get("error_description", "")[:300],
        )
        return _problem(PROVIDER_CANCELLED if error == "access_denied" else PROVIDER_REFUSED, 400)
    cookies = _cookies(request)
    try:
        done = await oauth.complete(
            tctx,
            provider,
            code=request.query_params.get("code", ""),
            state=request.query_params.get("state", ""),
            binding=request_cookie(cookies, OAUTH_BINDING_COOKIE),
            session_token=parse_cookie(cookies),
        )
    except ServiceError as exc:
        response = _problem(str(exc), 400)
        clear_cookie(response, OAUTH_BINDING_COOKIE)
        return response
    if done.kind == "linked":
        response = RedirectResponse(f"/settings?connected={quote(provider)}", status_code=303)
    else:
        response = RedirectResponse("/", status_code=303)
        assert done.expires is not None
        set_session_cookie(response, done.token, done.expires)
    clear_cookie(response, OAUTH_BINDING_COOKIE)
    return response
