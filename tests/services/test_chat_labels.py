"""Folders and tags as the sidebar manages them: rename, delete (the conversations stay, without the label),
how many conversations each holds, and that another user can do none of it to someone else's labels."""

from __future__ import annotations

import pytest

from services import chat
from services.chat.folders import folder_usage
from services.chat.tags import tag_usage
from services.context import Ctx
from services.errors import NotFound, ValidationError
from tests.services.test_chat_support import new_ctx


@pytest.fixture
async def alice(tenant) -> Ctx:  # type: ignore[no-untyped-def]
    return await new_ctx(tenant.id, "alice@example.com")


@pytest.fixture
async def bob(tenant) -> Ctx:  # type: ignore[no-untyped-def]
    return await new_ctx(tenant.id, "bob@example.com")


async def test_usage_counts_each_users_own_conversations(alice, bob) -> None:
    work = await chat.create_folder(alice, "Work")
    empty = await chat.create_folder(alice, "Empty")
    urgent = await chat.create_tag(alice, "urgent")
    unused = await chat.create_tag(alice, "unused")
    first = await chat.create_conversation(alice, title="one", folder_id=work.id)
    second = await chat.create_conversation(alice, title="two", folder_id=work.id)
    await chat.set_archived(alice, second.id, True)  # archived ones count too
    await chat.tag_conversation(alice, first.id, urgent.id)
    await chat.tag_conversation(alice, second.id, urgent.id)

    bobs_folder = await chat.create_folder(bob, "Work")  # the same name is fine for another user
    bobs_tag = await chat.create_tag(bob, "urgent")
    bobs = await chat.create_conversation(bob, title="bob's", folder_id=bobs_folder.id)
    await chat.tag_conversation(bob, bobs.id, bobs_tag.id)

    assert await folder_usage(alice) == {work.id: 2}
    assert await tag_usage(alice) == {urgent.id: 2}
    assert empty.id not in await folder_usage(alice) and unused.id not in await tag_usage(alice)
    assert await folder_usage(bob) == {bobs_folder.id: 1}
    assert await tag_usage(bob) == {bobs_tag.id: 1}


async def test_rename_and_delete_keep_the_conversations(alice) -> None:
    work = await chat.create_folder(alice, "Work")
    urgent = await chat.create_tag(alice, "urgent")
    other = await chat.create_tag(alice, "other")
    c = await chat.create_conversation(alice, title="kept", folder_id=work.id)
    await chat.tag_conversation(alice, c.id, urgent.id)
    await chat.tag_conversation(alice, c.id, other.id)

    assert (await chat.rename_folder(alice, work.id, "  Day job ")).name == "Day job"
    assert (await chat.rename_tag(alice, urgent.id, "soon")).name == "soon"
    with pytest.raises(ValidationError, match="already have a tag named “other”"):
        await chat.rename_tag(alice, urgent.id, "other")
    with pytest.raises(ValidationError, match="Give the folder a name"):
        await chat.rename_folder(alice, work.id, "   ")
    assert [f.name for f in await chat.list_folders(alice)] == ["Day job"]

    await chat.delete_folder(alice, work.id)
    await chat.delete_tag(alice, urgent.id)
    kept = await chat.get_conversation(alice, c.id)
    assert kept.title == "kept" and kept.folder_id is None and kept.tag_ids == (other.id,)
    assert await folder_usage(alice) == {} and await tag_usage(alice) == {other.id: 1}
    assert await chat.list_folders(alice) == []
    assert [t.name for t in await chat.list_tags(alice)] == ["other"]


async def test_another_user_cannot_rename_or_delete_my_labels(alice, bob) -> None:
    folder = await chat.create_folder(alice, "Private")
    tag = await chat.create_tag(alice, "secret")
    c = await chat.create_conversation(alice, title="mine", folder_id=folder.id)
    await chat.tag_conversation(alice, c.id, tag.id)

    for attempt in (
        chat.rename_folder(bob, folder.id, "pwned"),
        chat.delete_folder(bob, folder.id),
        chat.rename_tag(bob, tag.id, "pwned"),
        chat.delete_tag(bob, tag.id),
    ):
        with pytest.raises(NotFound):
            await attempt
    assert [f.name for f in await chat.list_folders(alice)] == ["Private"]
    assert [t.name for t in await chat.list_tags(alice)] == ["secret"]
    got = await chat.get_conversation(alice, c.id)
    assert got.folder_id == folder.id and got.tag_ids == (tag.id,)
    assert await folder_usage(bob) == {} and await tag_usage(bob) == {}
