"""Agent avatar images over the real routes: an upload is redrawn as our own small PNG (whatever was sent), is
refused with a reason when it is not an image or too big, is read only by members of its workspace, and an
agent saves it only when it exists in the saver's workspace."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator

import pytest
from PIL import Image

from services.agents import avatars, gallery, store
from services.agents.store import AgentDraft
from services.errors import ValidationError
from tests.fakes.documents import make_image, make_png
from tests.services.test_chat_files_routes import client, signed_in
from tests.services.test_chat_support import new_ctx


async def test_an_uploaded_avatar_is_redrawn_served_to_its_workspace_and_saved_on_agents(  # type: ignore[no-untyped-def]
    base,
    tenant,
    other_tenant,
) -> None:
    ana, token = await signed_in(tenant, "ana@example.com")
    async with client(base, tenant, token) as http:
        answer = await http.post("/api/agents/avatar", content=make_image("jpeg", 1200, 600))
        assert answer.status_code == 201, answer.text
        avatar = answer.json()["avatar"]
        digest = avatars.image_hash(avatar)
        assert digest is not None and answer.json()["url"] == f"/api/agents/avatar/{digest}.png"

        shown = await http.get(answer.json()["url"])
        assert shown.status_code == 200 and shown.headers["content-type"] == "image/png"
        assert shown.headers["x-content-type-options"] == "nosniff"
        assert "immutable" in shown.headers["cache-control"]
        with Image.open(io.BytesIO(shown.content)) as image:
            assert image.format == "PNG" and image.size == (256, 128)  # fits 256 × 256, proportions kept

        # The same image again is the same avatar, stored once.
        again = await http.post("/api/agents/avatar", content=make_image("jpeg", 1200, 600))
        assert again.json()["avatar"] == avatar

        # Refusals say why.
        for body, status, reason in (
            (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", 415, "PNG, JPEG"),
            (b"GIF89a not really", 415, "PNG, JPEG"),
            (b"", 400, "empty"),
        ):
            refused = await http.post("/api/agents/avatar", content=body)
            assert (refused.status_code, reason in refused.text) == (status, True), refused.text

        async def stream() -> AsyncIterator[bytes]:  # no Content-Length: the limit holds while it streams
            for _ in range(90):
                yield b"a" * 65536

        big = await http.post("/api/agents/avatar", content=stream())
        assert big.status_code == 413 and "larger than 5 MB" in big.text
        huge = await http.post("/api/agents/avatar", content=make_png(8000, 6000))
        assert huge.status_code == 415 and "too large (8,000 × 6,000 pixels)" in huge.text
        assert (await http.get(f"/api/agents/avatar/{'0' * 64}.png")).status_code == 404
        assert (await http.get("/api/agents/avatar/..%2F..%2Fetc.png")).status_code == 404

    # Another member of the workspace sees it; another workspace's member, and nobody signed in, do not.
    _, eve_token = await signed_in(tenant, "eve@example.com")
    async with client(base, tenant, eve_token) as http:
        assert (await http.get(avatars.url(avatar))).status_code == 200
    mallory, mallory_token = await signed_in(other_tenant, "mallory@example.com")
    async with client(base, other_tenant, mallory_token) as http:
        assert (await http.get(avatars.url(avatar))).status_code == 404
    async with client(base, tenant) as http:
        assert (await http.get(avatars.url(avatar))).status_code == 401
        assert (await http.post("/api/agents/avatar", content=make_png(10, 10))).status_code == 401

    # An agent keeps it (and a version change); another workspace cannot use the hash; a made-up one is refused.
    agent = await store.create_agent(ana, AgentDraft("Pictured", avatar=avatar))
    assert agent.avatar == avatar
    agent = await store.update_agent(ana, agent.id, AgentDraft("Pictured", avatar="🦊"))
    assert (agent.avatar, agent.version) == ("🦊", 2)
    restored = await store.restore_version(ana, agent.id, 1)
    assert restored.avatar == avatar
    for ctx, value in ((mallory, avatar), (ana, "image:" + "a" * 64), (ana, "image:nope")):
        with pytest.raises(ValidationError, match="avatar image is gone"):
            await store.create_agent(ctx, AgentDraft("Copy", avatar=value))
    with pytest.raises(ValidationError, match="an emoji"):
        await store.create_agent(ana, AgentDraft("Long", avatar="x" * 17))

    # A workspace template made from it keeps the image (admins only).
    owner = await new_ctx(tenant.id, f"boss-{uuid.uuid4().hex[:6]}@example.com", role="owner")
    template = await gallery.add_template(owner, AgentDraft("Pictured template", avatar=avatar))
    assert template.avatar == avatar
