"""The knowledge feature's two admin settings in a real browser: the owner chooses the workspace's embeddings
model under Admin → Models (a model the provider refuses is reported and nothing is saved; the fake provider's
fake-embed with dimension 0 is saved with the size it gives, 64), and lowers the workspace's storage quota under
Settings → Storage, then goes back to the server's limit. Screenshots of both sections."""

from __future__ import annotations

import uuid

import pytest
from playwright.async_api import Page, expect

from services.context import Ctx
from services.files import records
from tests.e2e.test_markdown import SHOTS
from tests.e2e.test_members import _owner_signed_in
from tests.fakes.llm_server import FakeLLMServer

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def _screens_dir() -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)


async def test_owner_sets_embeddings_and_storage_quota(app_server, page: Page, llm: FakeLLMServer) -> None:
    host, tenant_id = await _owner_signed_in(app_server, page, "kadm")
    await page.get_by_role("link", name="Models").first.click()
    section = page.get_by_role("region", name="Embeddings")
    await expect(section.locator("#embeddings-current")).to_have_text(
        "In use: fake-embed on Fake AI (64 dimensions), the server's default."
    )
    provider = section.get_by_label("Embeddings provider")
    await expect(provider).to_have_value("")
    await expect(provider.locator("option").first).to_have_text(
        "Server default: fake-embed on Fake AI (64 dimensions)"
    )
    await expect(section.get_by_label("Embeddings model")).to_have_count(0)  # only for a workspace choice
    await expect(section).to_contain_text("Changing the model embeds every file again in the background")

    # A model the provider does not know: its answer is shown, nothing is saved, the form keeps what was typed.
    await provider.select_option(label="Fake AI (fake)")
    await section.get_by_label("Embeddings model").fill("no-such-embed")
    await section.get_by_label("Dimension").fill("0")
    llm.configure(error_status=404)
    await section.get_by_role("button", name="Save").click()
    await expect(section.get_by_role("alert")).to_have_text(
        "The embeddings provider Fake AI answered HTTP 404: check its base URL and the embeddings model name "
        "'no-such-embed'. Nothing was saved.",
        timeout=20_000,  # the first check in a fresh app loads the openai SDK
    )
    await expect(section.get_by_role("status")).to_have_count(0)
    await expect(section.locator("#embeddings-current")).to_contain_text("the server's default")
    await expect(section.get_by_label("Embeddings model")).to_have_value("no-such-embed")
    llm.configure(error_status=None)

    # A dimension the model does not give is refused with what to set instead.
    await section.get_by_label("Embeddings model").fill("fake-embed")
    await section.get_by_label("Dimension").fill("384")
    await section.get_by_role("button", name="Save").click()
    await expect(section.get_by_role("alert")).to_contain_text(
        "returned vectors of 64 numbers, but 384 are expected: set the embeddings dimension to 64"
    )

    # Dimension 0: the model's own size is learnt and saved.
    await section.get_by_label("Dimension").fill("0")
    await section.get_by_role("button", name="Save").click()
    await expect(section.get_by_role("status")).to_have_text(
        "Saved: it answered. Knowledge is now embedded with fake-embed on Fake AI (64 dimensions)."
    )
    await expect(section.get_by_role("alert")).to_have_count(0)
    await expect(section.locator("#embeddings-current")).to_have_text(
        "In use: fake-embed on Fake AI (64 dimensions), chosen for this workspace."
    )
    await expect(section.get_by_label("Dimension")).to_have_value("64")
    assert llm.embedding_requests()[-1].body["model"] == "fake-embed"
    await page.reload()  # stored, not only shown
    section = page.get_by_role("region", name="Embeddings")
    await expect(section.locator("#embeddings-current")).to_contain_text("chosen for this workspace")
    await expect(section.get_by_label("Embeddings provider")).to_have_value("fake")
    await expect(section.get_by_label("Dimension")).to_have_value("64")
    await section.scroll_into_view_if_needed()
    await section.screenshot(path=str(SHOTS / "knowledge-admin-embeddings.png"))

    # Storage: lower the quota, see it in force, go back to the server's limit.
    await page.get_by_role("link", name="Settings").first.click()
    storage = page.get_by_role("region", name="Storage")
    usage = storage.locator("#storage-usage")
    await expect(usage).to_have_text(
        "Used 0 MB of 20,480 MB (the server's limit). The server allows up to 20,480 MB."
    )
    await expect(storage.get_by_role("button", name="Use the server's limit")).to_have_count(0)
    quota = storage.get_by_label("Storage quota (MB)")
    await quota.fill("30000")
    await storage.get_by_role("button", name="Save").click()
    await expect(storage.get_by_role("alert")).to_have_text(
        "The storage quota must be between 1 and 20480 MB (the server's limit)."
    )
    await quota.fill("250")
    await storage.get_by_role("button", name="Save").click()
    await expect(storage.get_by_role("status")).to_have_text("Saved: this workspace may store up to 250 MB.")
    await expect(usage).to_have_text(
        "Used 0 MB of 250 MB (this workspace's quota). The server allows up to 20,480 MB."
    )
    await expect(quota).to_have_value("250")
    probe = Ctx(tenant_id=uuid.UUID(tenant_id), user_id=uuid.uuid4(), role="member")
    assert (await records.usage(probe)).tenant_quota == 250 * records.MB
    await storage.scroll_into_view_if_needed()
    await storage.screenshot(path=str(SHOTS / "knowledge-admin-storage.png"))

    await page.set_viewport_size({"width": 390, "height": 844})  # a phone
    await storage.scroll_into_view_if_needed()
    await page.screenshot(path=str(SHOTS / "knowledge-admin-storage-phone.png"))

    await storage.get_by_role("button", name="Use the server's limit").click()
    await expect(storage.get_by_role("status")).to_have_text(
        "Saved: this workspace uses the server's limit (20,480 MB)."
    )
    await expect(usage).to_contain_text("of 20,480 MB (the server's limit)")
    await expect(quota).to_have_value("")
    assert (await records.usage(probe)).tenant_quota == 20480 * records.MB

    await page.goto(app_server.url("/admin/models", host=host))
    section = page.get_by_role("region", name="Embeddings")
    await expect(section.locator("#embeddings-current")).to_contain_text("chosen for this workspace")
    await section.scroll_into_view_if_needed()
    await page.screenshot(path=str(SHOTS / "knowledge-admin-embeddings-phone.png"))


async def test_owner_turns_memory_off_for_the_workspace_and_picks_the_memory_model(
    app_server, page: Page, llm: FakeLLMServer
) -> None:
    from services.memory import settings as memory_settings

    _host, tenant_id = await _owner_signed_in(app_server, page, "madm")
    await page.get_by_role("link", name="Models").first.click()
    section = page.get_by_role("region", name="Memory")
    switch = section.get_by_role("switch")
    await expect(switch).to_be_checked()
    await expect(section.get_by_label("Memory model")).to_have_value("")

    await switch.click()
    await section.get_by_role("button", name="Save memory settings").click()
    await expect(section.get_by_role("status")).to_contain_text(
        "memory is off for everyone in this workspace"
    )
    assert not (await memory_settings.workspace_memory(uuid.UUID(tenant_id))).enabled
    # A member's Memory page says so (the owner is a member too).
    await page.get_by_role("link", name="Memory", exact=True).first.click()
    await expect(page.locator("#memory-workspace-off")).to_contain_text("turned off in this workspace")

    await page.get_by_role("link", name="Models").first.click()
    section = page.get_by_role("region", name="Memory")
    await expect(section.get_by_role("switch")).not_to_be_checked()
    await section.get_by_role("switch").click()
    await section.get_by_label("Memory model").select_option(label="Fake AI · fake-model")
    await section.get_by_role("button", name="Save memory settings").click()
    await expect(section.get_by_role("status")).to_have_text(
        "Saved: memory is on; memories are extracted with Fake AI · fake-model."
    )
    await section.screenshot(path=str(SHOTS / "memory-admin-settings.png"))
    await page.reload()
    section = page.get_by_role("region", name="Memory")
    await expect(section.get_by_label("Memory model")).to_have_value("fake/fake-model")
    await expect(section.get_by_role("switch")).to_be_checked()
