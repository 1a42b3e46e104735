"""A loopback fake of the OpenAI and Anthropic HTTP APIs, speaking their real wire formats.

One real HTTP/1.1 server (stdlib `ThreadingHTTPServer`) on 127.0.0.1 and an ephemeral port, run in a
background thread. Point the real SDKs at it:

    from tests.fakes.llm_server import FakeLLMServer, FakeToolCall

    with FakeLLMServer() as server:
        server.configure(reply="Hello there", tokens_per_second=50)
        oa = openai.AsyncOpenAI(api_key="k", base_url=server.openai_base_url)         # .../v1
        an = anthropic.AsyncAnthropic(api_key="k", base_url=server.anthropic_base_url)  # no /v1

In pytest, either use the `fake_llm_server` fixture defined here (register this module with
`pytest_plugins = ["tests.fakes.llm_server"]` in a conftest, or import the fixture), or write your own
fixture around the context manager. From a shell: `python -m tests.fakes.llm_server --port 8765`.

Endpoints
    POST /v1/chat/completions   OpenAI Chat Completions; `stream: true` answers with SSE
                                (`data: {chat.completion.chunk}` ... `data: [DONE]`), tool-call deltas
                                split across chunks, and a final usage chunk when
                                `stream_options.include_usage` is set; otherwise a `chat.completion`.
    POST /v1/messages           Anthropic Messages; `stream: true` answers with the real event sequence
                                (message_start, content_block_start/delta/stop with text_delta and
                                input_json_delta, ping, message_delta with usage and stop_reason,
                                message_stop); otherwise a `message` object.
    POST /v1/embeddings         OpenAI embeddings: for each input a deterministic unit vector of `dimensions`
                                (else `embedding_dim`) numbers, a hashed bag of its words (texts that share
                                words are near); `encoding_format` float or base64; `usage` in words.
    GET  /v1/models             OpenAI's list format, or Anthropic's when the request carries an
                                `anthropic-version` header (the Anthropic SDK always sends it).

Behaviour (`FakeBehavior`, changed at run time with `server.configure(**fields)`, thread-safe; each
request uses the behaviour current when it arrived):
    reply               str, or a function of the JSON request body returning str. It is streamed
                        in "tokens": a word with its leading whitespace ("Hello", " world", "!").
    first_token_delay   seconds between the response headers and the first token.
    tokens_per_second   pacing of tokens (and tool-argument fragments); None = as fast as possible.
    error_status        answer chat (and embeddings) requests with this HTTP status and a realistic JSON error body
                        of the matching API (e.g. 401, 429, 500, 529) instead of a reply...
    error_count         ...for the first N chat requests only (None = all of them). `configure()`
                        restarts this count.
    error_message       replaces the default message of that error body.
    retry_after         value of the `Retry-After` header sent with the error (e.g. "1").
    drop_after_tokens   stream K text tokens, then drop the connection without finishing the body.
    tool_calls          `FakeToolCall`s the model "calls" after its text (finish reason tool_calls), or a
                        function of the JSON request body returning them (e.g. only when `tools` are offered).
    finish_reason       override, in OpenAI terms (stop, length, tool_calls); mapped for Anthropic.
    prompt_tokens / completion_tokens   override the reported usage (default: word counts).
    models              ids served by GET /v1/models.
    api_key             when set, requests must carry it (Bearer or x-api-key) or get a 401.
    embedding_dim       size of the embeddings when the request names no `dimensions` (default 64).

Observations: `server.requests` (every request: method, path, headers, JSON body),
`server.chat_requests()`, `server.embedding_requests()`, `server.client_disconnects` (responses the client abandoned before their
end), `server.wait_for_client_disconnects(n, timeout)` and its async twin
`await server.await_client_disconnects(n, seconds)`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import hashlib
import json
import math
import re
import select
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

import pytest

DEFAULT_REPLY = "Hello! I am the fake model. This reply streams word by word."
DEFAULT_MODELS = ("fake-model", "fake-model-mini")
CHAT_PATHS = ("/v1/chat/completions", "/v1/messages")
EMBEDDINGS_PATH = "/v1/embeddings"

ReplySource = str | Callable[[dict[str, Any]], str]


@dataclass(frozen=True)
class FakeToolCall:
    """A tool call the fake model makes. `arguments` is a dict (sent as JSON) or raw JSON text."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments)


@dataclass(frozen=True)
class FakeBehavior:
    """How the fake answers; see the module docstring."""

    reply: ReplySource = DEFAULT_REPLY
    first_token_delay: float = 0.0
    tokens_per_second: float | None = None
    error_status: int | None = None
    error_count: int | None = None
    error_message: str | None = None
    retry_after: str | None = None
    drop_after_tokens: int | None = None
    tool_calls: tuple[FakeToolCall, ...] | Callable[[dict[str, Any]], Sequence[FakeToolCall]] = ()
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    models: tuple[str, ...] = DEFAULT_MODELS
    api_key: str | None = None
    embedding_dim: int = 64


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


def _calls(behavior: FakeBehavior) -> tuple[FakeToolCall, ...]:
    """The tool calls of a behaviour already resolved for its request (see `do_POST`)."""
    return behavior.tool_calls if isinstance(behavior.tool_calls, tuple) else ()


def split_tokens(text: str) -> list[str]:
    """Pieces of `text` that join back to it exactly: each word with its leading whitespace."""
    return re.findall(r"\s*\S+|\s+", text)


def fake_embedding(text: str, dim: int) -> list[float]:
    """The fake's vector for `text`: each word adds +-1 at a position its hash picks; normalised to length 1."""
    vector = [0.0] * dim
    for word in re.findall(r"\w+", text.lower()) or [""]:
        digest = hashlib.sha256(word.encode()).digest()
        vector[int.from_bytes(digest[:4], "big") % dim] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector] if any(vector) else [1.0] + [0.0] * (dim - 1)


def _split_fragments(text: str, parts: int = 3) -> list[str]:
    if not text:
        return []
    size = max(1, math.ceil(len(text) / parts))
    return [text[i : i + size] for i in range(0, len(text), size)]


def _count_words(node: Any) -> int:
    if isinstance(node, str):
        return len(node.split())
    if isinstance(node, list):
        return sum(_count_words(item) for item in node)
    if isinstance(node, dict):
        return sum(_count_words(v) for k, v in node.items() if k in ("content", "text", "system", "messages"))
    return 0


_OPENAI_ERRORS: dict[int, tuple[str, str, str | None]] = {
    400: ("Invalid request.", "invalid_request_error", None),
    401: (
        (
            "Incorrect API key provided: sk-fake***. You can find your API key at "
            "https://platform.openai.com/account/api-keys."
        ),
        "invalid_request_error",
        "invalid_api_key",
    ),
    403: ("You are not allowed to sample from this model", "invalid_request_error", None),
    404: (
        "The model does not exist or you do not have access to it.",
        "invalid_request_error",
        "model_not_found",
    ),
    429: (
        "Rate limit reached for requests. Please try again in 1s.",
        "requests",
        "rate_limit_exceeded",
    ),
    500: ("The server had an error while processing your request. Sorry about that!", "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
}
_ANTHROPIC_ERRORS: dict[int, tuple[str, str]] = {
    400: ("Invalid request.", "invalid_request_error"),
    401: ("invalid x-api-key", "authentication_error"),
    403: ("Your API key does not have permission to use the specified resource.", "permission_error"),
    404: ("The requested resource could not be found.", "not_found_error"),
    413: ("Request exceeds the maximum allowed number of bytes.", "request_too_large"),
    429: ("Number of request tokens has exceeded your per-minute rate limit.", "rate_limit_error"),
    500: ("Internal server error", "api_error"),
    529: ("Overloaded", "overloaded_error"),
}
_ANTHROPIC_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, fake: FakeLLMServer, address: tuple[str, int]) -> None:
        self.fake = fake
        super().__init__(address, _Handler)


class _ClientGone(Exception):
    """The client closed the connection before the response was complete."""


class _ServerStopping(Exception):
    """The fake is shutting down; abandon the response."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    # ---- plumbing ---------------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._poller = select.poll()  # unlike select(), no limit on descriptor numbers
        self._poller.register(self.connection, select.POLLIN | select.POLLPRI)
        self.server.fake._track(self.connection, add=True)

    def finish(self) -> None:
        self.server.fake._track(self.connection, add=False)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        return

    @property
    def fake(self) -> FakeLLMServer:
        return self.server.fake

    def _poll(self, wait: float) -> str:
        """Wait up to `wait` seconds for the socket: "gone" when the peer closed its end, "data" when
        it sent something (a pipelined request), "idle" otherwise."""
        try:
            ready = self._poller.poll(wait * 1000)
        except OSError:
            return "gone"
        if not ready:
            return "idle"
        try:
            return "gone" if self.connection.recv(1, socket.MSG_PEEK) == b"" else "data"
        except BlockingIOError:
            return "idle"
        except OSError:
            return "gone"

    def _pause(self, seconds: float) -> None:
        """Sleep, but notice at once when the client goes away (raises `_ClientGone`)."""
        deadline = time.monotonic() + max(0.0, seconds)
        while True:
            if self.fake._stopping.is_set():
                raise _ServerStopping
            remaining = deadline - time.monotonic()
            step = max(0.0, min(remaining, 0.05))
            state = self._poll(step)
            if state == "gone":
                raise _ClientGone
            if remaining <= 0:
                return
            if state == "data":
                time.sleep(step)

    def _write(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError) as exc:
            raise _ClientGone from exc

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self._write(data)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-request-id", f"req_{uuid.uuid4().hex[:24]}")
        self.end_headers()
        self.wfile.flush()

    def _chunk(self, data: bytes) -> None:
        if self._poll(0.0) == "gone":
            raise _ClientGone
        self._write(b"%x\r\n%s\r\n" % (len(data), data))

    def _end_stream(self) -> None:
        self._write(b"0\r\n\r\n")

    def _drop(self) -> None:
        """Close the connection in the middle of a chunked body, like a crashed upstream."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # ---- routing ----------------------------------------------------------------------------

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        self.fake._record(RecordedRequest("GET", path, self._headers(), None))
        behavior = self.fake.behavior
        anthropic_style = "anthropic-version" in self.headers
        if not self._authorized(behavior, anthropic_style):
            return
        if path.rstrip("/") != "/v1/models":
            self._not_found(anthropic_style)
            return
        if anthropic_style:
            data = [
                {
                    "type": "model",
                    "id": model,
                    "display_name": model.replace("-", " ").title(),
                    "created_at": "2025-01-01T00:00:00Z",
                    "lifecycle": "active",
                }
                for model in behavior.models
            ]
            self._send_json(
                200,
                {
                    "data": data,
                    "has_more": False,
                    "first_id": data[0]["id"] if data else None,
                    "last_id": data[-1]["id"] if data else None,
                },
            )
        else:
            created = int(time.time())
            self._send_json(
                200,
                {
                    "object": "list",
                    "data": [
                        {"id": model, "object": "model", "created": created, "owned_by": "fake"}
                        for model in behavior.models
                    ],
                },
            )

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = raw.decode("utf-8", "replace")
        self.fake._record(RecordedRequest("POST", path, self._headers(), body))
        anthropic_style = path == "/v1/messages"
        behavior = self.fake.behavior
        try:
            if path == EMBEDDINGS_PATH:
                if not isinstance(body, dict):
                    self._error(400, False, behavior, "The request body is not a JSON object.")
                elif self._authorized(behavior, False):
                    self._embeddings(body, behavior)
                return
            if path not in CHAT_PATHS:
                self._not_found(anthropic_style)
                return
            if not isinstance(body, dict):
                self._error(400, anthropic_style, behavior, "The request body is not a JSON object.")
                return
            if not self._authorized(behavior, anthropic_style):
                return
            if behavior.error_status is not None and self.fake._take_error(behavior):
                self._error(behavior.error_status, anthropic_style, behavior, behavior.error_message)
                return
            reply = behavior.reply(body) if callable(behavior.reply) else behavior.reply
            if callable(behavior.tool_calls):
                behavior = dataclasses.replace(behavior, tool_calls=tuple(behavior.tool_calls(body)))
            if anthropic_style:
                if body.get("stream"):
                    self._anthropic_stream(body, behavior, reply)
                else:
                    self._anthropic_message(body, behavior, reply)
            elif body.get("stream"):
                self._openai_stream(body, behavior, reply)
            else:
                self._openai_completion(body, behavior, reply)
        except (_ClientGone, BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True
            self.fake._client_disconnected()
        except _ServerStopping:
            self.close_connection = True

    def _headers(self) -> dict[str, str]:
        return {name.lower(): value for name, value in self.headers.items()}

    def _authorized(self, behavior: FakeBehavior, anthropic_style: bool) -> bool:
        if behavior.api_key is None:
            return True
        given = self.headers.get("x-api-key")
        auth = self.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            given = given or auth[7:].strip()
        if given == behavior.api_key:
            return True
        self._error(401, anthropic_style, behavior, None)
        return False

    def _not_found(self, anthropic_style: bool) -> None:
        self._error(404, anthropic_style, self.fake.behavior, f"Unknown path {self.path}")

    def _error(self, status: int, anthropic_style: bool, behavior: FakeBehavior, message: str | None) -> None:
        headers: dict[str, str] = {}
        if behavior.retry_after is not None:
            headers["retry-after"] = behavior.retry_after
        request_id = f"req_{uuid.uuid4().hex[:24]}"
        if anthropic_style:
            default_message, kind = _ANTHROPIC_ERRORS.get(
                status, ("Internal server error" if status >= 500 else "Invalid request.", "api_error")
            )
            headers["request-id"] = request_id
            payload: dict[str, Any] = {
                "type": "error",
                "error": {"type": kind, "message": message or default_message},
                "request_id": request_id,
            }
        else:
            default_message, kind, code = _OPENAI_ERRORS.get(
                status,
                (
                    "The server had an error processing your request."
                    if status >= 500
                    else "Invalid request.",
                    "server_error" if status >= 500 else "invalid_request_error",
                    None,
                ),
            )
            headers["x-request-id"] = request_id
            payload = {
                "error": {"message": message or default_message, "type": kind, "param": None, "code": code}
            }
        self._send_json(status, payload, headers)

    # ---- OpenAI -----------------------------------------------------------------------------

    def _embeddings(self, body: dict[str, Any], behavior: FakeBehavior) -> None:
        if behavior.error_status is not None and self.fake._take_error(behavior):
            self._error(behavior.error_status, False, behavior, behavior.error_message)
            return
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else texts
        dim = body.get("dimensions", behavior.embedding_dim)
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            self._error(400, False, behavior, "'input' must be a string or a non-empty list of strings.")
            return
        if not isinstance(dim, int) or dim < 1:
            self._error(400, False, behavior, "'dimensions' must be a positive integer.")
            return
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        for index, text in enumerate(texts):
            vector: Any = fake_embedding(text, dim)
            if as_base64:
                vector = base64.b64encode(struct.pack(f"<{dim}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": vector})
        words = sum(max(1, len(t.split())) for t in texts)
        self._send_json(
            200,
            {
                "object": "list",
                "data": data,
                "model": str(body.get("model", "fake-embedding")),
                "usage": {"prompt_tokens": words, "total_tokens": words},
            },
        )

    def _usage(self, body: dict[str, Any], behavior: FakeBehavior, tokens: list[str]) -> tuple[int, int]:
        prompt = behavior.prompt_tokens if behavior.prompt_tokens is not None else max(1, _count_words(body))
        completion = (
            behavior.completion_tokens
            if behavior.completion_tokens is not None
            else len(tokens) + sum(len(_split_fragments(t.arguments_json())) + 1 for t in _calls(behavior))
        )
        return prompt, completion

    def _openai_stream(self, body: dict[str, Any], behavior: FakeBehavior, reply: str) -> None:
        options = body.get("stream_options") or {}
        include_usage = bool(options.get("include_usage")) if isinstance(options, dict) else False
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        model = str(body.get("model", "fake-model"))
        gap = 1.0 / behavior.tokens_per_second if behavior.tokens_per_second else 0.0

        def send(choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> None:
            chunk: dict[str, Any] = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": choices,
            }
            if include_usage:
                chunk["usage"] = usage
            self._chunk(b"data: " + json.dumps(chunk).encode() + b"\n\n")

        def delta(content: dict[str, Any], finish: str | None = None) -> list[dict[str, Any]]:
            return [{"index": 0, "delta": content, "logprobs": None, "finish_reason": finish}]

        self._start_stream()
        self._pause(behavior.first_token_delay)
        send(delta({"role": "assistant", "content": "", "refusal": None}))
        tokens = split_tokens(reply)
        for position, token in enumerate(tokens):
            if behavior.drop_after_tokens is not None and position >= behavior.drop_after_tokens:
                self._drop()
                return
            if position:
                self._pause(gap)
            send(delta({"content": token}))
        if behavior.drop_after_tokens is not None:
            self._drop()
            return
        for index, call in enumerate(_calls(behavior)):
            self._pause(gap)
            send(
                delta(
                    {
                        "tool_calls": [
                            {
                                "index": index,
                                "id": call.id or f"call_{uuid.uuid4().hex[:24]}",
                                "type": "function",
                                "function": {"name": call.name, "arguments": ""},
                            }
                        ]
                    }
                )
            )
            for fragment in _split_fragments(call.arguments_json()):
                self._pause(gap)
                send(delta({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}))
        finish = behavior.finish_reason or ("tool_calls" if _calls(behavior) else "stop")
        send(delta({}, finish))
        if include_usage:
            prompt, completion = self._usage(body, behavior, tokens)
            send(
                [],
                {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                },
            )
        self._chunk(b"data: [DONE]\n\n")
        self._end_stream()

    def _openai_completion(self, body: dict[str, Any], behavior: FakeBehavior, reply: str) -> None:
        self._pause(behavior.first_token_delay)
        if behavior.drop_after_tokens is not None:
            self._drop()
            return
        tokens = split_tokens(reply)
        prompt, completion = self._usage(body, behavior, tokens)
        message: dict[str, Any] = {"role": "assistant", "content": reply, "refusal": None}
        if _calls(behavior):
            message["tool_calls"] = [
                {
                    "id": call.id or f"call_{uuid.uuid4().hex[:24]}",
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments_json()},
                }
                for call in _calls(behavior)
            ]
        finish = behavior.finish_reason or ("tool_calls" if _calls(behavior) else "stop")
        self._send_json(
            200,
            {
                "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": str(body.get("model", "fake-model")),
                "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                },
            },
            {"x-request-id": f"req_{uuid.uuid4().hex[:24]}"},
        )

    # ---- Anthropic --------------------------------------------------------------------------

    def _anthropic_stream(self, body: dict[str, Any], behavior: FakeBehavior, reply: str) -> None:
        gap = 1.0 / behavior.tokens_per_second if behavior.tokens_per_second else 0.0
        tokens = split_tokens(reply)
        prompt, completion = self._usage(body, behavior, tokens)

        def send(event: str, payload: dict[str, Any]) -> None:
            self._chunk(f"event: {event}\ndata: {json.dumps(payload)}\n\n".encode())

        self._start_stream()
        send(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": f"msg_{uuid.uuid4().hex[:24]}",
                    "type": "message",
                    "role": "assistant",
                    "model": str(body.get("model", "fake-model")),
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {
                        "input_tokens": prompt,
                        "cache_creation_input_tokens": 0,
                        "cache_read_input_tokens": 0,
                        "output_tokens": 1,
                    },
                },
            },
        )
        self._pause(behavior.first_token_delay)
        index = 0
        if tokens or not _calls(behavior):
            send(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "text", "text": ""},
                },
            )
            send("ping", {"type": "ping"})
            for position, token in enumerate(tokens):
                if behavior.drop_after_tokens is not None and position >= behavior.drop_after_tokens:
                    self._drop()
                    return
                if position:
                    self._pause(gap)
                send(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "text_delta", "text": token},
                    },
                )
            if behavior.drop_after_tokens is not None:
                self._drop()
                return
            send("content_block_stop", {"type": "content_block_stop", "index": index})
            index += 1
        elif behavior.drop_after_tokens is not None:
            self._drop()
            return
        for call in _calls(behavior):
            self._pause(gap)
            send(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {
                        "type": "tool_use",
                        "id": call.id or f"toolu_{uuid.uuid4().hex[:24]}",
                        "name": call.name,
                        "input": {},
                    },
                },
            )
            for fragment in ["", *_split_fragments(call.arguments_json())]:
                send(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": fragment},
                    },
                )
                self._pause(gap)
            send("content_block_stop", {"type": "content_block_stop", "index": index})
            index += 1
        finish = behavior.finish_reason or ("tool_calls" if _calls(behavior) else "stop")
        send(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": _ANTHROPIC_STOP.get(finish, finish), "stop_sequence": None},
                "usage": {"output_tokens": completion},
            },
        )
        send("message_stop", {"type": "message_stop"})
        self._end_stream()

    def _anthropic_message(self, body: dict[str, Any], behavior: FakeBehavior, reply: str) -> None:
        self._pause(behavior.first_token_delay)
        if behavior.drop_after_tokens is not None:
            self._drop()
            return
        tokens = split_tokens(reply)
        prompt, completion = self._usage(body, behavior, tokens)
        content: list[dict[str, Any]] = [{"type": "text", "text": reply}] if reply else []
        content.extend(
            {
                "type": "tool_use",
                "id": call.id or f"toolu_{uuid.uuid4().hex[:24]}",
                "name": call.name,
                "input": json.loads(call.arguments_json() or "{}"),
            }
            for call in _calls(behavior)
        )
        finish = behavior.finish_reason or ("tool_calls" if _calls(behavior) else "stop")
        self._send_json(
            200,
            {
                "id": f"msg_{uuid.uuid4().hex[:24]}",
                "type": "message",
                "role": "assistant",
                "model": str(body.get("model", "fake-model")),
                "content": content,
                "stop_reason": _ANTHROPIC_STOP.get(finish, finish),
                "stop_sequence": None,
                "usage": {"input_tokens": prompt, "output_tokens": completion},
            },
            {"request-id": f"req_{uuid.uuid4().hex[:24]}"},
        )


class FakeLLMServer:
    """The fake server. Start with `start()` or `with FakeLLMServer() as server:`."""

    def __init__(
        self, behavior: FakeBehavior | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._behavior = behavior or FakeBehavior()
        self._requests: list[RecordedRequest] = []
        self._errors_sent = 0
        self._client_disconnects = 0
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._address = (host, port)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- life cycle -------------------------------------------------------------------------

    def start(self) -> Self:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _HTTPServer(self, self._address)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-llm-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if thread is not None:
            thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ---- addresses --------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the fake LLM server is not running")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """Base URL for `openai.AsyncOpenAI(base_url=...)` (ends with /v1)."""
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        """Base URL for `anthropic.AsyncAnthropic(base_url=...)` (the SDK adds /v1 itself)."""
        return self.url

    # ---- behaviour --------------------------------------------------------------------------

    @property
    def behavior(self) -> FakeBehavior:
        with self._lock:
            return self._behavior

    def configure(self, **changes: Any) -> FakeBehavior:
        """Change some behaviour fields (see `FakeBehavior`); restarts the `error_count` count."""
        if "tool_calls" in changes and not callable(changes["tool_calls"]):
            changes["tool_calls"] = tuple(changes["tool_calls"])
        if "models" in changes:
            changes["models"] = tuple(changes["models"])
        with self._lock:
            self._behavior = dataclasses.replace(self._behavior, **changes)
            self._errors_sent = 0
            return self._behavior

    def reset(self) -> None:
        """Default behaviour, no recorded requests, counters at zero."""
        with self._lock:
            self._behavior = FakeBehavior()
            self._requests.clear()
            self._errors_sent = 0
            self._client_disconnects = 0

    # ---- observations -----------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def chat_requests(self) -> list[RecordedRequest]:
        """Recorded POSTs to /v1/chat/completions and /v1/messages."""
        return [r for r in self.requests if r.method == "POST" and r.path in CHAT_PATHS]

    def embedding_requests(self) -> list[RecordedRequest]:
        """Recorded POSTs to /v1/embeddings."""
        return [r for r in self.requests if r.method == "POST" and r.path == EMBEDDINGS_PATH]

    @property
    def client_disconnects(self) -> int:
        with self._lock:
            return self._client_disconnects

    def wait_for_client_disconnects(self, count: int = 1, timeout: float = 5.0) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self._client_disconnects >= count, timeout)

    async def await_client_disconnects(self, count: int = 1, seconds: float = 5.0) -> bool:
        """Async twin of `wait_for_client_disconnects`, for tests running on an event loop."""
        deadline = time.monotonic() + seconds
        while self.client_disconnects < count:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    # ---- called by the handler --------------------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _take_error(self, behavior: FakeBehavior) -> bool:
        with self._lock:
            if behavior.error_count is not None and self._errors_sent >= behavior.error_count:
                return False
            self._errors_sent += 1
            return True

    def _client_disconnected(self) -> None:
        with self._changed:
            self._client_disconnects += 1
            self._changed.notify_all()

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)


@pytest.fixture
def fake_llm_server() -> Iterator[FakeLLMServer]:
    """A running fake server with default behaviour, stopped after the test."""
    with FakeLLMServer() as server:
        yield server


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the fake OpenAI/Anthropic server in the foreground.")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--reply", default=DEFAULT_REPLY)
    parser.add_argument("--first-token-delay", type=float, default=0.0)
    parser.add_argument("--tokens-per-second", type=float, default=None)
    args = parser.parse_args()
    server = FakeLLMServer(
        FakeBehavior(
            reply=args.reply,
            first_token_delay=args.first_token_delay,
            tokens_per_second=args.tokens_per_second,
        ),
        port=args.port,
    ).start()
    print(
        f"fake LLM server: OpenAI {server.openai_base_url}  Anthropic {server.anthropic_base_url}", flush=True
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
