"""Knowledge: uploaded files, collections, the chunks search reads, and what messages attach and cite.

- `files`: one row per stored blob of a user. The same content uploaded twice by one user is one row (unique
  `(user_id, sha256)`). `status` moves uploading -> processing -> ready | failed; `stage` and `progress` say where
  processing is, `error_text` why it failed. The blob lives in storage under `storage_key` (never a path a name
  made). Its size counts against the user's and the tenant's quota until the row is deleted.
- `collections`: named groups of files. `owner_id` NULL with `shared` true: a tenant-wide collection its admins
  manage and every member may search; otherwise personal.
- `file_sections`: the extracted text in document order, for the preview (page by page).
- `file_chunks`: the extracted text in chunks of a few hundred tokens, each with its page and heading, a
  generated tsvector (`search`, 'simple' configuration as in migration 0002) and an embedding. The embedding
  column is a dimensionless `vector`; `embedding_dim` says its size and the HNSW indexes are partial expression
  indexes per common size (migration 0007 explains). `user_id` is the file's owner, copied so the search filters
  without a join.
- `message_files`: the files attached to a message (a user's), in order; `file_id` becomes NULL when the file is
  deleted, the name, kind and size stay so the chip still reads right.
- `message_citations`: the numbered sources of a reply; links (`file_id`, `chunk_id`) become NULL when the file is
  deleted, the name, page and snippet stay.
- `conversation_collections`: the collections a conversation searches (the composer's Knowledge picker).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Column, Index, PrimaryKeyConstraint, Text, UniqueConstraint
from sqlalchemy import text as sql
from sqlmodel import Field, SQLModel

from models.base import fk, id_field, tenant_fk, ts

FILE_STATUSES = ("uploading", "processing", "ready", "failed")


class StoredFile(SQLModel, table=True):
    __tablename__ = "files"
    __table_args__ = (
        UniqueConstraint("user_id", "sha256", name="uq_files_user_sha256"),
        # The Files page: a user's files, newest first (keyset on the tail).
        Index("ix_files_user_recent", "user_id", sql("created_at DESC"), sql("id DESC")),
        CheckConstraint("status IN ('uploading', 'processing', 'ready', 'failed')", name="ck_files_status"),
    )

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = tenant_fk()
    user_id: uuid.UUID = fk("users", index=False)  # ix_files_user_recent starts with user_id
    name: str = Field(max_length=200)
    kind: str = Field(max_length=10)
    mime: str = Field(max_length=120)
    size_bytes: int
    sha256: str = Field(max_length=64)
    storage_key: str = Field(max_length=400)
    status: str = Field(default="processing", max_length=20)
    stage: str = Field(default="", max_length=40)
    progress: int = 0  # percent of the current processing
    error_text: str = Field(default="", max_length=1000)
    pages: int | None = None
    width: int | None = None
    height: int | None = None
    tokens: int | None = None  # of the extracted text
    chunk_count: int = 0
    embedded: bool = False  # chunks carry embeddings (else the file is keyword-searchable only)
    embeddings_model: str = Field(default="", max_length=200)
    created_at: datetime = ts()
    updated_at: datetime = ts()


class Collection(SQLModel, table=True):
    __tablename__ = "collections"
    __table_args__ = (
        Index("ix_collections_owner", "owner_id", "name"),
        Index(
            "uq_collections_owner_name",
            "tenant_id",
            sql("coalesce(owner_id, tenant_id)"),
            sql("lower(name)"),
            unique=True,
        ),
    )

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = tenant_fk()
    owner_id: uuid.UUID | None = fk("users", nullable=True, index=False)  # NULL: tenant-wide
    name: str = Field(max_length=100)
    description: str = Field(default="", max_length=500)
    created_at: datetime = ts()


class CollectionFile(SQLModel, table=True):
    __tablename__ = "collection_files"
    __table_args__ = (
        PrimaryKeyConstraint("collection_id", "file_id", name="pk_collection_files"),
        Index("ix_collection_files_file", "file_id"),
    )

    tenant_id: uuid.UUID = tenant_fk()
    collection_id: uuid.UUID = fk("collections", index=False)
    file_id: uuid.UUID = fk("files", index=False)
    added_at: datetime = ts()


class FileSection(SQLModel, table=True):
    """The extracted text in document order (a page, a slide, a sheet, a heading's section): the preview."""

    __tablename__ = "file_sections"
    __table_args__ = (PrimaryKeyConstraint("file_id", "ordinal", name="pk_file_sections"),)

    tenant_id: uuid.UUID = tenant_fk()
    file_id: uuid.UUID = fk("files", index=False)
    ordinal: int
    page: int | None = None
    heading: str = Field(default="", max_length=300)
    text: str = Field(sa_column=Column(Text, nullable=False))


class FileChunk(SQLModel, table=True):
    """`search` (tsvector) and `embedding` (vector) are added by migration 0007 and not mapped: the ORM never
    loads or writes them; services use SQL."""

    __tablename__ = "file_chunks"
    __table_args__ = (UniqueConstraint("file_id", "ordinal", name="uq_file_chunks_file_ordinal"),)

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = tenant_fk()
    file_id: uuid.UUID = fk("files", index=False)  # uq_file_chunks_file_ordinal serves it
    user_id: uuid.UUID = fk("users", index=True)
    ordinal: int
    page: int | None = None
    heading: str = Field(default="", max_length=300)
    tokens: int = 0
    text: str = Field(sa_column=Column(Text, nullable=False))
    embedding_dim: int | None = None


class MessageFile(SQLModel, table=True):
    __tablename__ = "message_files"
    __table_args__ = (
        PrimaryKeyConstraint("message_id", "ordinal", name="pk_message_files"),
        Index("ix_message_files_file", "file_id"),
    )

    tenant_id: uuid.UUID = tenant_fk()
    message_id: uuid.UUID = fk("messages", index=False)
    ordinal: int
    file_id: uuid.UUID | None = fk("files", nullable=True, ondelete="SET NULL", index=False)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=10)
    size_bytes: int = 0


class MessageCitation(SQLModel, table=True):
    __tablename__ = "message_citations"
    __table_args__ = (
        PrimaryKeyConstraint("message_id", "number", name="pk_message_citations"),
        Index("ix_message_citations_file", "file_id"),
        Index("ix_message_citations_chunk", "chunk_id"),
    )

    tenant_id: uuid.UUID = tenant_fk()
    message_id: uuid.UUID = fk("messages", index=False)
    number: int
    file_id: uuid.UUID | None = fk("files", nullable=True, ondelete="SET NULL", index=False)
    chunk_id: uuid.UUID | None = fk("file_chunks", nullable=True, ondelete="SET NULL", index=False)
    name: str = Field(max_length=200)
    page: int | None = None
    heading: str = Field(default="", max_length=300)
    snippet: str = Field(default="", max_length=600)


class ConversationCollection(SQLModel, table=True):
    __tablename__ = "conversation_collections"
    __table_args__ = (
        PrimaryKeyConstraint("conversation_id", "collection_id", name="pk_conversation_collections"),
        Index("ix_conversation_collections_collection", "collection_id"),
    )

    tenant_id: uuid.UUID = tenant_fk()
    conversation_id: uuid.UUID = fk("conversations", index=False)
    collection_id: uuid.UUID = fk("collections", index=False)
