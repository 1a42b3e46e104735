"""Attacks that need the real app: a foreign page driving the websocket, and a tab changing hands."""

from __future__ import annotations

import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import aiohttp
import pytest
from playwright.async_api import Page, expect

from services import tenants
from services.auth import accounts
from state.request import SESSION_COOKIE
from tests.e2e.test_chat import _send, assistant, replies
from tests.e2e.test_shell import _sign_up, at
from tests.fakes.llm_server import FakeLLMServer

pytestmark = pytest.mark.e2e


async def _open_socket(port: int, origin: str) -> str:
    """Open Reflex's Socket.IO websocket with `origin`; return the first Engine.IO packet."""
    url = f"ws://127.0.0.1:{port}/_event/?EIO=4&transport=websocket"
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(url, headers={"Origin": origin}, timeout=aiohttp.ClientWSTimeout(ws_close=5)) as ws,
    ):
        message = await ws.receive(timeout=5)
        return str(message.data)


async def test_a_foreign_page_cannot_open_the_websocket(app_server) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await _open_socket(app_server.port, "http://evil.example")
    assert refused.value.status in (400, 403)
    # The app's own pages can (Engine.IO's open packet starts with "0").
    assert (await _open_socket(app_server.port, f"http://127.0.0.1:{app_server.port}")).startswith("0")


def _frames(page: Page) -> list[str]:
    """Every websocket frame the page receives from now on."""
    seen: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda data: seen.append(str(data))))
    return seen


async def test_the_next_person_in_a_tab_never_receives_the_last_ones_data(
    app_server, page: Page, llm: FakeLLMServer
) -> None:
    secret_a, secret_b = f"alpha-{uuid.uuid4().hex[:8]}", f"bravo-{uuid.uuid4().hex[:8]}"
    llm.configure(reply=replies(f"Noted {secret_a}."))
    await _sign_up(page, app_server.url("/signup"), "Ann", f"ann-{uuid.uuid4().hex[:8]}@example.com")
    await expect(page).to_have_url(at(app_server, "/"))
    await _send(page, f"My secret is {secret_a}")
    await expect(assistant(page).last).to_contain_text(secret_a)

    # 1. Ann logs out with the button; Bob signs up in the same tab.
    frames = _frames(page)
    await page.get_by_role("button", name="Account", exact=True).click()
    await page.get_by_role("menuitem", name="Log out").click()
    await expect(page).to_have_url(at(app_server, "/login"))
    llm.configure(reply=replies(f"Noted {secret_b}."))
    await _sign_up(page, app_server.url("/signup"), "Bob", f"bob-{uuid.uuid4().hex[:8]}@example.com")
    await expect(page).to_have_url(at(app_server, "/"))
    await expect(page.get_by_role("button", name="Account", exact=True)).to_contain_text("Bob")
    assert not [f for f in frames if secret_a in f], "Ann's chat reached the browser after she logged out"
    await expect(page.get_by_text(secret_a)).to_have_count(0)

    # 2. Bob's session ends elsewhere ("log out everywhere" on another device); this tab reconnects.
    await _send(page, f"Mine is {secret_b}")
    await expect(assistant(page).last).to_contain_text(secret_b)
    token = next(c["value"] for c in await page.context.cookies() if c["name"] == SESSION_COOKIE)
    tenant = await tenants.lookup_host("127.0.0.1")
    assert tenant is not None
    ctx = await accounts.authenticate(tenant.id, token)
    assert ctx is not None
    frames.clear()
    await accounts.log_out_everywhere(ctx)
    await page.goto(app_server.url("/login"))
    await expect(page.get_by_role("button", name="Log in")).to_be_visible()
    await page.wait_for_timeout(500)
    assert not [f for f in frames if secret_b in f], "Bob's chat reached the browser after his session ended"


class _Counter(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Counter.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
async def member_page(app_server, page: Page) -> Page:
    await _sign_up(page, app_server.url("/signup"), "Iris", f"iris-{uuid.uuid4().hex[:8]}@example.com")
    await expect(page).to_have_url(at(app_server, "/"))
    return page


async def test_remote_images_in_replies_are_links_not_loads(member_page: Page, llm: FakeLLMServer) -> None:
    """Prompt-injected output cannot leak data through an image URL: remote images are links."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        remote = f"http://127.0.0.1:{server.server_address[1]}/pixel.png?d=secret"
        llm.configure(reply=replies(f"Here ![chart]({remote}) and ![logo](/favicon.ico) done."))
        await _send(member_page, "Show me")
        reply = assistant(member_page).last
        await expect(reply).to_contain_text("done.")
        link = reply.get_by_role("link", name="Image: chart")
        await expect(link).to_have_attribute("href", remote)
        await expect(reply.locator("img")).to_have_attribute("src", re.compile(r"/favicon\.ico$"))
        await member_page.wait_for_timeout(500)
        assert _Counter.hits == []
    finally:
        server.shutdown()


async def test_continue_with_google_signs_in_through_the_server_route(
    app_server, page: Page, fake_oauth
) -> None:
    """The button is a real link to the server's start route (state, PKCE, binding cookie), and the
    provider's callback signs the browser in."""
    from tests.fakes.oauth_provider import OidcIdentity

    suffix = uuid.uuid4().hex[:8]
    fake_oauth.identity = OidcIdentity(
        sub=f"g-{suffix}", email=f"gina-{suffix}@example.com", email_verified=True, name="Gina Google"
    )
    await page.goto(app_server.url("/login"))
    await page.get_by_role("link", name="Continue with Google").click()
    await expect(page).to_have_url(at(app_server, "/"))
    await expect(page.get_by_role("button", name="Account", exact=True)).to_contain_text("Gina Google")


async def test_reflex_upload_endpoint_is_not_mounted(app_server) -> None:
    """Reflex's own /_upload buffers the body to disk before any handler checks who is asking; the app
    uploads through its own authenticated route, so that endpoint must not exist."""
    import httpx

    async with httpx.AsyncClient() as http:
        answer = await http.post(
            app_server.url("/_upload"),
            content=b"",  # no body: the 404 never races an upload the server does not read
            headers={
                "Reflex-Client-Token": "x",
                "Reflex-Event-Handler": "state.chat_io.chat_io_state.import_files",
            },
        )
    assert answer.status_code in (404, 405)
