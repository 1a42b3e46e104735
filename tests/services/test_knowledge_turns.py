"""The reply turn with files: attachments stored on the message, small files whole, collections searched,
numbered sources sent to the model, citations stored with the reply (and kept when the file is deleted),
images as image parts for vision models, and refused for the others."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from services import ai_catalog, chat
from services.context import Ctx
from services.files import collections, records, sniff
from services.turns import UserMessage, run_turn
from tests.fakes.documents import make_pdf, make_png
from tests.fakes.llm_server import FakeLLMServer
from tests.services.test_chat_support import new_ctx
from tests.services.test_knowledge import PAGES, drain
from tests.services.test_turns import Sink


async def stored_file(ctx: Ctx, tmp_path: Path, name: str, body: bytes) -> records.FileInfo:
    """An upload as the route makes it (detect, register), then its ingestion job run."""
    path = tmp_path / uuid.uuid4().hex
    path.write_bytes(body)
    found = sniff.detect(path, name)
    done = await records.register(ctx, path, name, len(body), records.sha256_of(path), found)
    await drain(ctx.tenant_id)
    return await records.get(ctx, done.file.id)


async def member(tenant: Any, server: FakeLLMServer, models: list[str]) -> Ctx:
    owner = await new_ctx(tenant.id, f"owner-{uuid.uuid4().hex[:6]}@example.com", role="owner")
    await ai_catalog.save_workspace_provider(
        owner, provider_id="mine", kind="openai_compatible", label="Mine",
        base_url=server.openai_base_url, api_key="sk-test-key", models=models,
    )  # fmt: skip
    return owner


def system_text(body: dict[str, Any]) -> str:
    return "\n".join(str(m["content"]) for m in body["messages"] if m["role"] == "system")


async def test_an_attached_pdf_is_cited(tenant, embeddings, no_server_providers, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ctx = await member(tenant, embeddings, ["m1"])
    pdf = await stored_file(ctx, tmp_path, "Q3 report.pdf", make_pdf(PAGES))
    assert pdf.status == "ready"
    embeddings.configure(reply="Onboarding has five steps [2].")
    cid, mid = uuid.uuid4(), uuid.uuid4()
    user = UserMessage(mid, None, "How many onboarding steps?", new_conversation=True, attachments=(pdf.id,))
    result = await run_turn(ctx, cid, mid, "mine/m1", on_text=Sink().on_text, user=user)
    assert not result.failed, result.error
    sent = system_text(embeddings.chat_requests()[-1].body)
    assert '<source number="2" from="Q3 report.pdf, page 2">' in sent and "five steps" in sent
    path = (await chat.get_tree(ctx, cid)).path()
    question, reply = path[0].message, path[1].message
    assert [p["name"] for p in question.content_parts if p["type"] == "file"] == ["Q3 report.pdf"]
    cited = [p for p in reply.content_parts if p["type"] == "citation"]
    assert [(c["n"], c["name"], c["page"]) for c in cited] == [(2, "Q3 report.pdf", 2)]
    assert "onboarding" in cited[0]["snippet"].lower()

    # Deleting the file keeps the citation's name and page, without the link.
    await records.delete_file(ctx, pdf.id)
    path = (await chat.get_tree(ctx, cid)).path()
    cited = [p for p in path[1].message.content_parts if p["type"] == "citation"]
    assert cited[0]["name"] == "Q3 report.pdf" and cited[0]["file_id"] is None
    assert [p["file_id"] for p in path[0].message.content_parts if p["type"] == "file"] == [None]


async def test_a_collection_is_searched_for_the_conversation(
    tenant, other_tenant, embeddings, no_server_providers, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    ctx = await member(tenant, embeddings, ["m1"])
    long_pages = [
        f"Filler page {i} about nothing in particular, lorem ipsum dolor sit amet. " * 40 for i in range(30)
    ]
    long_pages[17] = "The refund policy: members may cancel within fourteen days for a full refund."
    big = await stored_file(ctx, tmp_path, "handbook.pdf", make_pdf(long_pages))
    shelf = await collections.create_collection(ctx, "Policies")
    await collections.set_file_collections(ctx, big.id, [shelf.id])
    embeddings.configure(reply="Within fourteen days [1].")
    cid, mid = uuid.uuid4(), uuid.uuid4()
    user = UserMessage(
        mid, None, "What is the refund policy?", new_conversation=True, collections=(shelf.id,)
    )
    result = await run_turn(ctx, cid, mid, "mine/m1", on_text=Sink().on_text, user=user)
    assert not result.failed, result.error
    sent = system_text(embeddings.chat_requests()[-1].body)
    assert "page 18" in sent.split("</source>")[0], "the best chunk comes first, with its page"
    assert sent.count("<source ") < 30, "a large file is searched, not sent whole"
    assert await collections.conversation_collections(ctx, cid) == [shelf.id]

    # Another member cannot use that personal collection, nor attach the file.
    other = await new_ctx(tenant.id, "eve@example.com")
    cid2, mid2 = uuid.uuid4(), uuid.uuid4()
    sneaky = UserMessage(
        mid2, None, "refund policy?", new_conversation=True, attachments=(big.id,), collections=(shelf.id,)
    )
    result = await run_turn(other, cid2, mid2, "mine/m1", on_text=Sink().on_text, user=sneaky)
    assert "fourteen" not in system_text(embeddings.chat_requests()[-1].body)
    # Nor a member of another workspace, with the same ids; and nothing of the file is kept on their message.
    mallory = await member(other_tenant, embeddings, ["m1"])
    cid3, mid3 = uuid.uuid4(), uuid.uuid4()
    sneaky = UserMessage(
        mid3, None, "refund policy?", new_conversation=True, attachments=(big.id,), collections=(shelf.id,)
    )
    await run_turn(mallory, cid3, mid3, "mine/m1", on_text=Sink().on_text, user=sneaky)
    assert "fourteen" not in system_text(embeddings.chat_requests()[-1].body)
    question = (await chat.get_tree(mallory, cid3)).path()[0].message
    assert not [p for p in question.content_parts if p.get("type") == "file"]


async def test_images_go_to_vision_models_only(
    tenant, llm, no_server_providers, tmp_path, loopback_allowed
) -> None:  # type: ignore[no-untyped-def]
    ctx = await member(tenant, llm, ["gpt-4o", "m1"])
    image = await stored_file(ctx, tmp_path, "chart.png", make_png(40, 30))
    assert image.status == "ready"
    llm.configure(reply="A chart.")
    cid, mid = uuid.uuid4(), uuid.uuid4()
    user = UserMessage(mid, None, "What is this?", new_conversation=True, attachments=(image.id,))
    result = await run_turn(ctx, cid, mid, "mine/gpt-4o", on_text=Sink().on_text, user=user)
    assert not result.failed, result.error
    content = llm.chat_requests()[-1].body["messages"][-1]["content"]
    assert content[0] == {"type": "text", "text": "What is this?"}
    assert content[1]["image_url"]["url"].startswith("data:image/png;base64,")

    cid, mid = uuid.uuid4(), uuid.uuid4()
    user = UserMessage(mid, None, "And this?", new_conversation=True, attachments=(image.id,))
    before = len(llm.chat_requests())
    result = await run_turn(ctx, cid, mid, "mine/m1", on_text=Sink().on_text, user=user)
    assert result.failed and "cannot read images" in result.error
    assert len(llm.chat_requests()) == before, "nothing was sent to a model that cannot read it"


async def test_stop_while_an_attached_file_is_still_read(
    tenant, embeddings, no_server_providers, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """The turn waits for a file attached a moment ago (up to 90 s); Stop in that wait ends the turn at once,
    the model never asked, the message and an unfinished reply stored."""
    import time

    ctx = await member(tenant, embeddings, ["m1"])
    path = tmp_path / "fresh.pdf"
    path.write_bytes(make_pdf(PAGES))
    found = sniff.detect(path, "fresh.pdf")
    done = await records.register(ctx, path, "fresh.pdf", path.stat().st_size, records.sha256_of(path), found)
    assert done.file.status == "processing"  # no worker runs here: it stays so
    asked = len(embeddings.chat_requests())
    started = time.perf_counter()
    stop_at = started + 0.5

    async def should_stop() -> bool:
        return time.perf_counter() >= stop_at

    cid, mid = uuid.uuid4(), uuid.uuid4()
    user = UserMessage(mid, None, "What is in it?", new_conversation=True, attachments=(done.file.id,))
    result = await run_turn(
        ctx, cid, mid, "mine/m1", on_text=Sink().on_text, user=user, should_stop=should_stop
    )
    assert time.perf_counter() - started < 5
    assert (result.outcome.status, result.outcome.error) == ("unfinished", "Stopped.")
    assert len(embeddings.chat_requests()) == asked, "the model was not asked"
    path_now = (await chat.get_tree(ctx, cid)).path()
    assert [m.message.role for m in path_now] == ["user", "assistant"]
    assert path_now[1].message.status == "unfinished"


async def test_a_new_embeddings_model_embeds_every_file_again(
    tenant, embeddings, no_server_providers, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """Vectors of two models cannot be compared: choosing another model queues every ready document again (the
    text is kept, only the embeddings are made anew), and search uses the new vectors once done."""
    from services.knowledge.embed import set_embeddings
    from services.knowledge.search import search
    from tests.services.test_chat_support import sql

    ctx = await member(tenant, embeddings, ["m1"])  # the owner, with the fake as workspace provider "mine"
    await set_embeddings(
        ctx, "mine", "fake-embed", 0
    )  # 384 numbers (the fixture's size); nothing to redo yet
    pdf = await stored_file(ctx, tmp_path, "Q3 report.pdf", make_pdf(PAGES))
    assert (pdf.status, pdf.embedded) == ("ready", True)
    dims = "SELECT DISTINCT embedding_dim FROM file_chunks WHERE file_id = :f"
    assert await sql(tenant.id, dims, f=pdf.id) == [(384,)]

    embeddings.configure(embedding_dim=64)
    await set_embeddings(ctx, "mine", "fake-embed-small", 0)  # 0: the size the model gives (64)
    queued = await records.get(ctx, pdf.id)
    assert (queued.status, queued.stage, queued.embedded) == ("processing", "embedding", False)
    assert await sql(tenant.id, dims, f=pdf.id) == [(None,)]
    sent = len(embeddings.embedding_requests())
    await drain(tenant.id)
    done = await records.get(ctx, pdf.id)
    assert (done.status, done.embedded, done.chunk_count) == ("ready", True, pdf.chunk_count)
    assert await sql(tenant.id, dims, f=pdf.id) == [(64,)]
    assert all(r.body["model"] == "fake-embed-small" for r in embeddings.embedding_requests()[sent:])
    found = await search(ctx, "how many onboarding steps?", file_ids=[pdf.id])
    assert not found.keyword_only and found.hits[0].page == 2

    # Saving the same model again queues nothing.
    await set_embeddings(ctx, "mine", "fake-embed-small", 64)
    assert (await records.get(ctx, pdf.id)).status == "ready"
