"""Collections: personal ones, and workspace-wide ones that only admins make and fill; a member reads and searches
a shared collection's files (not their own changes to it); another workspace sees none of it."""

from __future__ import annotations

import pytest

from services.errors import NotFound, PermissionDenied, ValidationError
from services.files import collections, records
from services.knowledge.search import search
from tests.fakes.documents import make_pdf
from tests.services.test_chat_support import new_ctx
from tests.services.test_knowledge import PAGES
from tests.services.test_knowledge_turns import stored_file


async def test_shared_collections_are_made_by_admins_and_read_by_members(
    tenant, other_tenant, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    admin = await new_ctx(tenant.id, "ada@example.com", role="admin")
    member = await new_ctx(tenant.id, "max@example.com")
    with pytest.raises(PermissionDenied):
        await collections.create_collection(member, "Everyone's", shared=True)
    shelf = await collections.create_collection(admin, "Handbooks", shared=True)
    mine = await collections.create_collection(member, "My notes")
    pdf = await stored_file(admin, tmp_path, "Handbook.pdf", make_pdf(PAGES))
    await collections.set_file_collections(admin, pdf.id, [shelf.id])

    # The member sees the shared collection (not editable) beside their own, and reads and searches its file.
    seen = {c.name: c for c in await collections.list_collections(member)}
    assert set(seen) == {"Handbooks", "My notes"}
    assert (seen["Handbooks"].editable, seen["My notes"].editable) == (False, True)
    assert await collections.collection_file_ids(member, [shelf.id]) == [pdf.id]
    assert await records.readable_ids(member, [pdf.id]) == [pdf.id]
    found = await search(member, "onboarding steps", file_ids=[pdf.id])
    assert found.hits and found.hits[0].page == 2
    # ...but does not change it: no rename, none of their files put in it.
    with pytest.raises(ValidationError, match="Only the workspace's admins"):
        await collections.rename_collection(member, shelf.id, "Mine now")
    own = await stored_file(member, tmp_path, "notes.pdf", make_pdf(["Private notes about churn."]))
    with pytest.raises(NotFound):
        await collections.set_file_collections(member, own.id, [shelf.id])
    await collections.set_file_collections(member, own.id, [mine.id])
    # The admin does not see the member's personal collection, nor read its file.
    assert {c.name for c in await collections.list_collections(admin)} == {"Handbooks"}
    assert await collections.collection_file_ids(admin, [mine.id]) == []
    assert await records.readable_ids(admin, [own.id]) == []

    # Another workspace sees nothing of either, by ids.
    stranger = await new_ctx(other_tenant.id, "eve@example.com", role="admin")
    assert await collections.list_collections(stranger) == []
    assert await collections.collection_file_ids(stranger, [shelf.id, mine.id]) == []
    assert await records.readable_ids(stranger, [pdf.id, own.id]) == []
    assert (await search(stranger, "onboarding steps", file_ids=[pdf.id])).hits == []
