"""messages.search also holds the names of the files a message attaches

Revision ID: 0010
Revises: 0009

A member looks for "the chat where I sent the board report": the file's name is not in the message's text, only
in its parts. The generated column is made again with the names as words (models/chat.py MESSAGE_SEARCH; dots,
dashes and underscores become spaces, so "board-report.pdf" is found by "report"). Postgres cannot change a
generated expression in place: the column and its GIN index are dropped and added, which rewrites the table once.
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

OLD_SEARCH = "to_tsvector('simple'::regconfig, left(text, 100000))"
# As models/chat.py MESSAGE_SEARCH says it today (written out: a migration must not change when the model does).
NEW_SEARCH = (
    "to_tsvector('simple'::regconfig, left(text, 100000) || ' ' || "
    "translate(coalesce(jsonb_path_query_array(content_parts, '$[*] ? (@.type == \"file\").name')::text, ''), "
    "'._-[]\"', '      '))"
)


def _rebuild(expression: str) -> None:
    op.execute("ALTER TABLE messages DROP COLUMN search")
    op.execute(f"ALTER TABLE messages ADD COLUMN search tsvector GENERATED ALWAYS AS ({expression}) STORED")
    op.execute("CREATE INDEX ix_messages_search ON messages USING gin (search)")


def upgrade() -> None:
    _rebuild(NEW_SEARCH)


def downgrade() -> None:
    _rebuild(OLD_SEARCH)
