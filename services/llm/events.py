"""The normalized events every provider adapter yields, and the chat message type they consume.

A reply stream is a sequence of events in this order:

* any number of `TextDelta` and `ToolCall` events (content), in the order the model produced them;
* then, on success, at most one `Usage` followed by exactly one `Finish`;
* or, on failure, exactly one `ProviderError`, which ends the stream. Text already yielded stays valid:
  the caller keeps it as a partial (unfinished) reply and shows the error.

Nothing follows a `Finish` or a `ProviderError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeAlias

Role: TypeAlias = Literal["system", "user", "assistant", "tool"]
FinishReason: TypeAlias = Literal["stop", "length", "tool_calls", "content_filter", "other"]


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the reply's text, to be appended to what came before."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A complete tool call, assembled from the streamed fragments.

    `arguments` is the JSON text the model produced (an object; "{}" when the tool takes no
    arguments). It is not validated here: the model may produce invalid JSON.
    """

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Usage:
    """Token usage of the request. `prompt_tokens` includes cached input tokens."""

    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class Finish:
    """The model finished. `reason` is normalized; `raw` is the provider's own value."""

    reason: FinishReason
    raw: str | None = None


@dataclass(frozen=True, slots=True)
class ProviderError:
    """The request failed; this ends the stream.

    `message` is the provider's own explanation when it gave one. `retryable` says whether trying
    again later may succeed (rate limit, server error, dropped connection), as opposed to errors
    that need a change first (bad key, unknown model, invalid request). `retry_after` is the delay in
    seconds the provider asked for, when it did.
    """

    message: str
    status_code: int | None = None
    retryable: bool = False
    retry_after: float | None = None


Event: TypeAlias = TextDelta | ToolCall | Usage | Finish | ProviderError
ContentEvent: TypeAlias = TextDelta | ToolCall


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image sent with a user message to a vision-capable model (base64 of the stored bytes)."""

    mime: str  # image/png, image/jpeg, image/webp, image/gif
    data: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of a conversation, in a provider-neutral form.

    * `system`: instructions (Anthropic receives them as its `system` parameter);
    * `user`: what the user wrote;
    * `assistant`: a previous reply; `tool_calls` lists the tools it called, if any;
    * `tool`: the result of a tool call; `tool_call_id` names the call it answers.
    `images` go with a user message (OpenAI `image_url` data URLs, Anthropic base64 `image` blocks).
    """

    role: Role
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    images: tuple[ImagePart, ...] = ()

    def __post_init__(self) -> None:
        if self.role not in ("system", "user", "assistant", "tool"):
            raise ValueError(f"unknown chat message role {self.role!r}")
        if self.role == "tool" and not self.tool_call_id:
            raise ValueError("a tool message needs the tool_call_id of the call it answers")
        if self.tool_calls and self.role != "assistant":
            raise ValueError("only assistant messages carry tool_calls")
        if self.images and self.role != "user":
            raise ValueError("only user messages carry images")
