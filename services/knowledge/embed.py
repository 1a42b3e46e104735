"""Embeddings for knowledge search: which model a tenant uses, and turning texts into vectors.

The server's choice comes from EMBEDDINGS_PROVIDER / EMBEDDINGS_MODEL / EMBEDDINGS_DIM; a workspace's admins may
choose their own (`set_embeddings`), kept in `tenants.config["embeddings"]` as
`{"provider": id, "model": name, "dim": n}`. The provider id names one of the providers the tenant can use
(the server's, or the workspace's own: services/ai_catalog.py) of kind OpenAI or OpenAI-compatible. With none
configured, `embeddings_config` is None and search is keyword-only. `current_choice` tells the admins what is
in use, where that comes from and what they may choose (Admin → Models), without asking any provider.

`embed` calls `/v1/embeddings` through the `openai` SDK, in batches, with up to 3 tries on 429, 5xx, timeouts
and broken connections, and checks every vector's size. `dimensions` is sent only to OpenAI itself (its
text-embedding-3 models shorten vectors on request; other servers reject or ignore the field). A workspace's own
provider connects to public addresses only, checked at connect time (services/netguard.py), and its errors are
told without its response body.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm.attributes import flag_modified

from models import Tenant
from services.ai_catalog import _configs
from services.auth.roles import require
from services.config import get_settings
from services.context import Ctx
from services.db import global_session
from services.errors import NotFound, ValidationError
from services.llm.registry import ProviderConfig
from services.llm.retry import RetryPolicy

if TYPE_CHECKING:
    import openai

log = logging.getLogger(__name__)

EMBEDDING_KINDS = ("openai", "openai_compatible")
MAX_DIM = 16000  # pgvector's limit for a stored vector
MAX_INPUTS = 2048  # OpenAI's limit of inputs per request
TIMEOUT = 60.0
RETRY = RetryPolicy(max_attempts=3, base_delay=0.5, max_delay=4.0, max_retry_after=20.0)
NOT_CONFIGURED = (
    "Semantic search is not configured: a server operator sets EMBEDDINGS_PROVIDER and EMBEDDINGS_MODEL, or an "
    "admin of this workspace chooses an embeddings model under Admin → Models. Until then search uses keywords."
)


class EmbeddingError(Exception):
    """Embedding failed. `str()` is for the user; `retryable` says whether trying later may help."""

    def __init__(self, message: str, *, retryable: bool, status_code: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status_code = status_code


@dataclass(frozen=True, slots=True)
class EmbeddingsConfig:
    provider_id: str
    label: str
    base_url: str | None
    api_key: str | None = field(repr=False)
    model: str
    dim: int  # 0: whatever size the model gives
    kind: str = "openai_compatible"
    public_only: bool = False  # a workspace's own provider (netguard at connect time)

    @property
    def key(self) -> str:
        """ "provider/model": what files record as the model of their embeddings."""
        return f"{self.provider_id}/{self.model}"


def _as_dim(value: Any) -> int:
    try:
        dim = int(value or 0)
    except (TypeError, ValueError):
        return -1
    return dim


async def _tenant_choice(tenant_id: uuid.UUID) -> dict[str, Any]:
    async with global_session() as session:
        tenant = await session.get(Tenant, tenant_id)
        if tenant is None:
            raise NotFound("This workspace no longer exists.")
        choice = (tenant.config or {}).get("embeddings")
        return dict(choice) if isinstance(choice, dict) else {}


async def embeddings_config(tenant_id: uuid.UUID) -> EmbeddingsConfig | None:
    """The embeddings model this tenant's knowledge uses, or None (keyword search only)."""
    choice = await _tenant_choice(tenant_id)
    provider_id, model, dim = _wanted(choice)
    configs = [cfg for cfg, *_ in await _configs(tenant_id, broken=[])]
    cfg, problem = _resolve(configs, provider_id, model, dim)
    if problem:
        log.warning("embeddings (tenant %s): %s Semantic search is off.", tenant_id, problem)
    return cfg


def _wanted(choice: dict[str, Any]) -> tuple[str, str, int]:
    """(provider id, model, dim) of the workspace's own choice, else of the server's EMBEDDINGS_* settings."""
    if choice.get("provider"):
        provider_id, model = str(choice["provider"]), str(choice.get("model") or "")
        return provider_id.strip().lower(), model.strip(), _as_dim(choice.get("dim"))
    settings = get_settings()
    return (
        settings.embeddings_provider.strip().lower(),
        settings.embeddings_model.strip(),
        _as_dim(settings.embeddings_dim),
    )


def _resolve(
    configs: list[ProviderConfig], provider_id: str, model: str, dim: int
) -> tuple[EmbeddingsConfig | None, str]:
    """The config for a (provider, model, dim), or None and why not ("" when nothing is chosen at all)."""
    if not provider_id or not model:
        return None, ""
    if not 0 <= dim <= MAX_DIM:
        return None, f"The embeddings dimension {dim} is not between 0 and {MAX_DIM}."
    for cfg in configs:
        if cfg.id != provider_id:
            continue
        if cfg.kind not in EMBEDDING_KINDS:
            return (
                None,
                f"The embeddings provider {cfg.label} is of kind {cfg.kind}, which has no embeddings API.",
            )
        return _from_provider(cfg, model, dim), ""
    return None, f"The embeddings provider '{provider_id}' is not configured."


def _from_provider(cfg: ProviderConfig, model: str, dim: int) -> EmbeddingsConfig:
    return EmbeddingsConfig(
        provider_id=cfg.id, label=cfg.label, base_url=cfg.base_url, api_key=cfg.api_key, model=model, dim=dim,
        kind=cfg.kind, public_only=cfg.public_only,
    )  # fmt: skip


# Calling the model --------------------------------------------------------------------------------------------

_clients: dict[tuple[Any, ...], openai.AsyncOpenAI] = {}


async def _client(cfg: EmbeddingsConfig) -> openai.AsyncOpenAI:
    """One SDK client (and connection pool) per endpoint, key and event loop."""
    if "openai" not in sys.modules:  # the SDK's first import takes seconds: not on the event loop
        await asyncio.to_thread(importlib.import_module, "openai")
    import openai

    key = (cfg.base_url, cfg.api_key, cfg.public_only, id(asyncio.get_running_loop()))
    client = _clients.get(key)
    if client is None:
        if len(_clients) > 100:
            _clients.clear()  # the old ones close when collected
        http_client = None
        if cfg.public_only:
            from services.netguard import PublicOnlyTransport

            http_client = openai.DefaultAsyncHttpxClient(transport=PublicOnlyTransport())
        client = _clients[key] = openai.AsyncOpenAI(
            api_key=cfg.api_key or "not-needed",
            base_url=cfg.base_url or "https://api.openai.com/v1",
            max_retries=0,
            timeout=openai.Timeout(TIMEOUT, connect=10.0),
            http_client=http_client,
        )
    return client


def _error(cfg: EmbeddingsConfig, exc: Exception) -> tuple[EmbeddingError, float | None]:
    """The user's message for a failed request, and the provider's Retry-After if any."""
    from services.llm.openai_compat import error_from_openai_exception
    from services.netguard import NOT_PUBLIC

    err = error_from_openai_exception(exc)
    status, who = err.status_code, f"The embeddings provider {cfg.label}"
    if NOT_PUBLIC in err.message:
        message = f"{who} is not at a public address; a workspace's own providers must use public addresses."
        return EmbeddingError(message, retryable=False), None
    if status is None:
        message = f"{who} could not be reached, or the connection broke. Check its address; it is tried again later."
    elif status in (401, 403):
        message = f"{who} refused the API key (HTTP {status}): check the key under Admin → Models."
    elif status == 404:
        message = f"{who} answered HTTP 404: check its base URL and the embeddings model name '{cfg.model}'."
    elif status == 429:
        message = f"{who} is rate limiting requests (HTTP 429); it is tried again later."
    elif status >= 500:
        message = f"{who} had an error (HTTP {status}); it is tried again later."
    else:
        detail = "" if cfg.public_only else f": {err.message}"
        message = (
            f"{who} refused the request (HTTP {status}){detail}. Check the embeddings model '{cfg.model}'."
        )
    return EmbeddingError(message, retryable=err.retryable, status_code=status), err.retry_after


async def _embed_batch(
    client: openai.AsyncOpenAI, cfg: EmbeddingsConfig, texts: list[str]
) -> list[list[float]]:
    import openai

    send_dim = cfg.dim > 0 and cfg.kind == "openai"
    for attempt in range(1, RETRY.max_attempts + 1):
        try:
            response = await client.embeddings.create(
                model=cfg.model,
                input=texts,
                dimensions=cfg.dim if send_dim else openai.omit,
                encoding_format="float",
            )
            break
        except (openai.OpenAIError, OSError) as exc:
            error, retry_after = _error(cfg, exc)
            if not error.retryable or attempt == RETRY.max_attempts:
                raise error from exc
            wait = RETRY.delay(attempt, retry_after)
            log.info(
                "embeddings: %s (try %s of %s); again in %.1f s", error, attempt, RETRY.max_attempts, wait
            )
            await asyncio.sleep(wait)
    rows = sorted(response.data, key=lambda d: d.index)
    if len(rows) != len(texts):
        raise EmbeddingError(
            f"The embeddings provider {cfg.label} returned {len(rows)} vectors for {len(texts)} texts.",
            retryable=True,
        )
    vectors = [list(map(float, r.embedding)) for r in rows]
    want = cfg.dim or len(vectors[0])
    for vector in vectors:
        if len(vector) != want:
            raise EmbeddingError(
                f"The embeddings model {cfg.model} returned vectors of {len(vector)} numbers, but {want} are "
                f"expected: set the embeddings dimension to {len(vector)} under Admin → Models, or choose a "
                f"model that gives {want}.",
                retryable=False,
            )
    return vectors


async def embed(cfg: EmbeddingsConfig, texts: list[str], *, batch: int = 64) -> list[list[float]]:
    """One vector per text, in order. Raises EmbeddingError (message for the user, `retryable`)."""
    if not texts:
        return []
    if not 1 <= batch <= MAX_INPUTS:
        raise ValueError(f"batch must be between 1 and {MAX_INPUTS}")
    client = await _client(cfg)
    # Empty inputs are refused by OpenAI: a blank chunk still gets a vector (of nothing in particular).
    cleaned = [t if t.strip() else " " for t in texts]
    out: list[list[float]] = []
    for start in range(0, len(cleaned), batch):
        part = await _embed_batch(client, cfg, cleaned[start : start + batch])
        if out and len(part[0]) != len(out[0]):
            raise EmbeddingError(
                f"The embeddings model {cfg.model} changed its vector size mid-way; try again.",
                retryable=True,
            )
        out.extend(part)
    return out


# Admin --------------------------------------------------------------------------------------------------------


async def set_embeddings(ctx: Ctx, provider_id: str, model: str, dim: int, *, check: bool = True) -> None:
    """Choose this workspace's embeddings model (admins). An empty `provider_id` goes back to the server's
    choice. With `check`, one text is embedded first: the model must answer, and with `dim` 0 the size it gives
    is saved. When the model in use changes, every file is embedded again in the background (searched by keywords
    until then)."""
    require(ctx, "models.manage")
    provider_id, model = provider_id.strip().lower(), model.strip()
    before = await embeddings_config(ctx.tenant_id)
    if not provider_id:
        await _save(ctx.tenant_id, None)
        await _reembed_if_changed(ctx.tenant_id, before)
        return
    if not model:
        raise ValidationError("Enter the name of the embeddings model (for example text-embedding-3-small).")
    if len(model) > 200:
        raise ValidationError("The model name is too long (at most 200 characters).")
    if not isinstance(dim, int) or not 0 <= dim <= MAX_DIM:
        raise ValidationError(
            f"The dimension must be a whole number from 1 to {MAX_DIM}, or 0 for the model's own."
        )
    found = [cfg for cfg, *_ in await _configs(ctx.tenant_id) if cfg.id == provider_id]
    if not found:
        raise ValidationError(
            f"There is no provider '{provider_id}' in this workspace. Add it under Admin → Models."
        )
    if found[0].kind not in EMBEDDING_KINDS:
        raise ValidationError(
            f"{found[0].label} has no embeddings API here: choose an OpenAI or OpenAI-compatible provider."
        )
    if check:
        try:
            [vector] = await embed(_from_provider(found[0], model, dim), ["Solo OS AI embeddings check"])
        except EmbeddingError as exc:
            raise ValidationError(f"{exc} Nothing was saved.") from exc
        dim = dim or len(vector)
    await _save(ctx.tenant_id, {"provider": provider_id, "model": model, "dim": dim})
    await _reembed_if_changed(ctx.tenant_id, before)


async def _reembed_if_changed(tenant_id: uuid.UUID, before: EmbeddingsConfig | None) -> None:
    """Vectors of two models are not comparable: when the model in use changed, the files are embedded again."""
    after = await embeddings_config(tenant_id)
    same = (before is None and after is None) or (
        before is not None and after is not None and (before.key, before.dim) == (after.key, after.dim)
    )
    if not same:
        from services.knowledge.ingest import reembed_all  # ingest builds on this module

        await reembed_all(tenant_id)


async def _save(tenant_id: uuid.UUID, choice: dict[str, Any] | None) -> None:
    async with global_session() as session:
        tenant = await session.get(Tenant, tenant_id, with_for_update=True)
        if tenant is None:
            raise NotFound("This workspace no longer exists.")
        config = dict(tenant.config or {})
        if choice is None:
            config.pop("embeddings", None)
        else:
            config["embeddings"] = choice
        tenant.config = config
        flag_modified(tenant, "config")
        session.add(tenant)


@dataclass(frozen=True, slots=True)
class EmbeddingsModel:
    provider_id: str
    label: str  # the provider's label
    model: str
    dim: int  # 0: the model's own size (learnt when first used)


@dataclass(frozen=True, slots=True)
class EmbeddingsChoice:
    """What Admin → Models shows: the model in use, where that choice comes from, and what can be chosen."""

    source: str  # "workspace": this workspace's own choice; "server": the server's EMBEDDINGS_*; "none"
    current: EmbeddingsModel | None  # the model search uses now; None: keyword search only
    server: EmbeddingsModel | None  # what the server's EMBEDDINGS_* give this workspace, if anything
    providers: list[tuple[str, str]]  # (id, label) of the providers that can embed (OpenAI, -compatible)
    problem: str = ""  # why the chosen model is not in use (its provider was removed...), else ""


def _summary(cfg: EmbeddingsConfig | None) -> EmbeddingsModel | None:
    return None if cfg is None else EmbeddingsModel(cfg.provider_id, cfg.label, cfg.model, cfg.dim)


async def current_choice(ctx: Ctx) -> EmbeddingsChoice:
    """This workspace's embeddings model for its admins: no request is made to any provider."""
    require(ctx, "models.manage")
    choice = await _tenant_choice(ctx.tenant_id)
    configs = [cfg for cfg, *_ in await _configs(ctx.tenant_id, broken=[])]
    server, server_problem = _resolve(configs, *_wanted({}))
    providers = [(cfg.id, cfg.label) for cfg in configs if cfg.kind in EMBEDDING_KINDS]
    if choice.get("provider"):
        current, problem = _resolve(configs, *_wanted(choice))
        source = "workspace"
    else:
        current, problem, source = server, server_problem, "server" if server is not None else "none"
    return EmbeddingsChoice(source, _summary(current), _summary(server), providers, problem)


# A turn's question ------------------------------------------------------------------------------------------

QUESTION_CHARS = 8000  # the start of a long message is what it asks


async def question_vector(ctx: Ctx, question: str) -> str | None:
    """The question's embedding with the tenant's model, as a vector literal (None: no model, or it failed)."""
    cfg = await embeddings_config(ctx.tenant_id)
    if cfg is None or not question.strip():
        return None
    try:
        from services.knowledge.ingest import vector_literal  # ingest builds on this module

        return vector_literal((await embed(cfg, [question[:QUESTION_CHARS]]))[0])
    except EmbeddingError as exc:
        log.warning("the question could not be embedded (keywords and recency only): %s", exc)
        return None


class QuestionVector:
    """The turn's question embedded once, when first wanted, for every part of the turn that wants it (the
    memories and the knowledge search): one embeddings request, not one each. A caller cancelled while waiting
    does not cancel it for the others."""

    def __init__(self, ctx: Ctx, question: str) -> None:
        self._ctx, self._question = ctx, question
        self._task: asyncio.Future[str | None] | None = None

    @property
    def question(self) -> str:
        return self._question

    async def get(self) -> str | None:
        if self._task is None:
            self._task = asyncio.ensure_future(question_vector(self._ctx, self._question))
        return await asyncio.shield(self._task)
