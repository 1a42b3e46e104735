"""Retry answers a failed reply again in its place: an empty failed reply is replaced (deleted with the new reply's
INSERT), one with partial text stays as an older version, and nothing else is ever deleted."""

from __future__ import annotations

import uuid

from services import chat
from services.turns import run_turn
from tests.services.test_chat_support import sql
from tests.services.test_turns import KEY, Sink, llm, new_chat, no_server_providers, owner  # noqa: F401


async def _messages(ctx, cid: uuid.UUID) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    tree = await chat.get_tree(ctx, cid)
    return [(m.role, m.text, m.status) for m in tree.messages]


async def test_retry_replaces_a_failed_empty_reply(owner, llm) -> None:  # noqa: F811
    llm.configure(reply="Recovered.", error_status=400, error_message="bad request from the fake")
    cid, user = new_chat("Please answer")
    failed = await run_turn(owner, cid, user.id, KEY, on_text=Sink().on_text, user=user)
    assert failed.failed and failed.reply is not None and failed.reply.text == ""
    llm.configure(reply="Recovered.", error_status=None)
    again = await run_turn(owner, cid, user.id, KEY, on_text=Sink().on_text, replaces=failed.reply.id)
    assert not again.failed
    assert await _messages(owner, cid) == [
        ("user", "Please answer", "complete"),
        ("assistant", "Recovered.", "complete"),
    ]
    path = (await chat.get_tree(owner, cid)).path()
    assert path[-1].count == 1  # no "1/2" left behind
    usage = await sql(owner.tenant_id, "SELECT count(*) FROM usage_records WHERE conversation_id = :c", c=cid)
    assert usage[0][0] == 2  # the failed attempt's usage is kept (its message link becomes NULL)


async def test_retry_keeps_a_failed_reply_that_has_text(owner, llm) -> None:  # noqa: F811
    llm.configure(reply="one two three four", drop_after_tokens=2)
    cid, user = new_chat("Tell me")
    partial = await run_turn(owner, cid, user.id, KEY, on_text=Sink().on_text, user=user)
    assert partial.reply is not None and partial.reply.status == "error" and partial.reply.text
    llm.configure(reply="Whole answer.")
    await run_turn(owner, cid, user.id, KEY, on_text=Sink().on_text, replaces=partial.reply.id)
    path = (await chat.get_tree(owner, cid)).path()
    assert path[-1].message.text == "Whole answer." and path[-1].count == 2


async def test_replaces_never_deletes_a_complete_reply_or_another_parents(owner, llm) -> None:  # noqa: F811
    llm.configure(reply="Fine answer.")
    cid, user = new_chat("First")
    good = await run_turn(owner, cid, user.id, KEY, on_text=Sink().on_text, user=user)
    assert good.reply is not None
    await run_turn(owner, cid, user.id, KEY, on_text=Sink().on_text, replaces=good.reply.id)
    assert len((await chat.get_tree(owner, cid)).messages) == 3  # both replies are there
