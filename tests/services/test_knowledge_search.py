"""The vector half of `knowledge_matches` on both of its paths: exact in a small scope, the size's HNSW index
above `solo.knowledge_exact_chunks` (10,000 by default; 0 here so that a few chunks take the index path). That the
index serves the HNSW path's query is shown by EXPLAIN in test_knowledge.py and timed by bench/knowledge.py."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from services.db import tenant_session
from services.knowledge.embed import embed, embeddings_config
from services.knowledge.ingest import vector_literal
from tests.fakes.documents import make_pdf
from tests.services.test_knowledge import PAGES
from tests.services.test_knowledge_turns import member, stored_file

MATCH = (
    "SELECT chunk_id FROM knowledge_matches(NULL, CAST(:v AS vector), :u, CAST(:s AS uuid[]), 10) "
    "ORDER BY place"
)
# The HNSW path widens the graph walk for the rest of the transaction (set_config(..., true)): which path ran.
EF = "SELECT current_setting('hnsw.ef_search')"


async def _nearest(ctx: Any, vector: str, scope: list[Any], exact_chunks: str) -> tuple[list[Any], str]:
    """The vector half's chunk ids, and hnsw.ef_search after it ran (40, pgvector's default, unless the HNSW
    path set its own)."""
    async with tenant_session(ctx.tenant_id) as session:
        # As on a large table: a few rows would otherwise be sorted rather than walked in the index.
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        if exact_chunks:
            await session.execute(
                text("SELECT set_config('solo.knowledge_exact_chunks', :n, true)"), {"n": exact_chunks}
            )
        ids = [r[0] for r in await session.execute(text(MATCH), {"v": vector, "u": ctx.user_id, "s": scope})]
        ef = (await session.execute(text(EF))).scalar_one()
    return ids, str(ef)


async def test_exact_and_hnsw_paths_find_the_same_nearest_chunks(
    tenant, embeddings, no_server_providers, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from services.knowledge.embed import set_embeddings

    ctx = await member(tenant, embeddings, ["m1"])
    await set_embeddings(ctx, "mine", "fake-embed", 0)  # 384 numbers: an indexed size
    pdf = await stored_file(ctx, tmp_path, "Q3 report.pdf", make_pdf(PAGES))
    cfg = await embeddings_config(tenant.id)
    assert cfg is not None
    vector = vector_literal((await embed(cfg, ["how many onboarding steps?"]))[0])

    exact, exact_ef = await _nearest(ctx, vector, [pdf.id], "")
    indexed, index_ef = await _nearest(ctx, vector, [pdf.id], "0")
    assert (exact_ef, index_ef) == ("40", "200"), "a small scope is compared exactly; above the limit, HNSW"
    assert len(exact) == pdf.chunk_count and indexed == exact
