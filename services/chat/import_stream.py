"""Read an export file one conversation at a time, with bounded memory (synchronous: run it in a thread).

The JSON is read as a stream of tokens (ijson); only the conversation being parsed is ever built in memory,
with a nesting limit checked while it is built. A zip is read member by member, each stream capped so that a
zip bomb stops at MAX_UNZIPPED_BYTES. `read_export` yields a `ParsedConversation` for each good
conversation and a `Skipped` (title and reason) for each bad one; a problem with the file itself (not JSON,
cut short, unknown format, damaged zip) raises ValidationError, possibly after some conversations.
"""

from __future__ import annotations

import codecs
import functools
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

import ijson

from services.chat.common import one_line
from services.chat.export import ARCHIVE_FORMAT, ARCHIVE_INDEX, FORMAT
from services.chat.import_parse import (
    ParsedConversation,
    parse_chatgpt_one,
    parse_librechat_one,
    parse_solo_one,
    solo_version_problem,
)
from services.errors import ValidationError

MAX_IMPORT_BYTES = 256 * 1024 * 1024  # the file as uploaded
MAX_UNZIPPED_BYTES = 1024 * 1024 * 1024  # what a zip may expand to, all members together
MAX_DEPTH = 10_000  # JSON nesting (LibreChat's nested tree nests two levels per message)
MAX_CONVERSATION_BYTES = 32 * 1024 * 1024  # one conversation's JSON: what is built in memory at a time
TOO_LARGE = f"it is larger than {MAX_CONVERSATION_BYTES // 2**20} MB, the most one conversation may take"
_TOO_LARGE: Any = object()  # what `_build` returns for a value it read past without building
_STARTS, _ENDS = ("start_map", "start_array"), ("end_map", "end_array")

UNKNOWN_FORMAT = (
    "this is not a conversation export we can read. Use a Solo OS AI export (JSON or zip), ChatGPT's "
    "conversations.json (or the zip ChatGPT emails you), or a LibreChat JSON export"
)

_PARSERS: dict[str, Callable[[Any, int], ParsedConversation]] = {
    FORMAT: parse_solo_one,
    "chatgpt": parse_chatgpt_one,
    "librechat": parse_librechat_one,
}


@dataclass(frozen=True, slots=True)
class Skipped:
    title: str
    reason: str


@dataclass(slots=True)
class Reading:
    """How far the reading has got (for progress) and which formats it met."""

    bytes_read: int = 0
    bytes_total: int = 0
    formats: set[str] = field(default_factory=set)
    budget: int = MAX_UNZIPPED_BYTES  # bytes a zip may still expand to


def _fail(where: str, problem: str) -> ValidationError:
    return ValidationError(f"{where}: {problem}")


class _Metered:
    """A binary stream that counts what is read from it and stops at the zip budget."""

    def __init__(self, raw: IO[bytes], reading: Reading, *, zipped: bool, skim: bool = False) -> None:
        self._raw, self._reading, self._zipped = raw, reading, zipped
        self._counted = Reading() if skim else reading  # a skimming pass does not move the progress
        self.position = 0  # bytes read through this stream

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson probes with read(0) for bytes or text
            return self._raw.read(0)
        data = self._raw.read(size if size > 0 else 64 * 1024)
        self._counted.bytes_read += len(data)
        self.position += len(data)
        if self._zipped:
            self._reading.budget -= len(data)
            if self._reading.budget < 0:
                raise _fail("the zip file", f"it expands to more than {MAX_UNZIPPED_BYTES // 2**20} MB")
        return data

    def __enter__(self) -> _Metered:
        return self

    def __exit__(self, *_: object) -> None:
        self._raw.close()


Events = Iterator[tuple[str, Any]]


class Opener(Protocol):
    def __call__(self, skim: bool = False) -> _Metered: ...


def _drain(events: Events, open_values: int) -> None:
    """Read past the rest of a value of which `open_values` objects/arrays are still open."""
    for event, _ in events:
        if event in _STARTS:
            open_values += 1
        elif event in _ENDS:
            open_values -= 1
            if open_values == 0:
                return


def _build(event: str, value: Any, events: Events, depth: int, stream: _Metered, start: int) -> Any:
    """The JSON value that starts with (event, value), built from the token stream without recursion.

    Once more than MAX_CONVERSATION_BYTES were read since `start`, the rest of it is read past and
    `_TOO_LARGE` is returned instead."""
    if event not in _STARTS:
        return value
    root: Any = {} if event == "start_map" else []
    stack: list[list[Any]] = [[root, None]]  # [container, pending key]
    if depth + 1 > MAX_DEPTH:
        raise ValidationError(f"it is nested more than {MAX_DEPTH} levels deep")
    for event, value in events:
        if stream.position - start > MAX_CONVERSATION_BYTES:
            still_open = len(stack) + (1 if event in _STARTS else 0) - (1 if event in _ENDS else 0)
            stack.clear()  # free what was built so far before reading past the rest
            if still_open:
                _drain(events, still_open)
            return _TOO_LARGE
        top = stack[-1]
        if event == "map_key":
            top[1] = value
            continue
        if event in _ENDS:
            stack.pop()
            if not stack:
                return root
            continue
        item: Any = value
        if event in _STARTS:
            item = {} if event == "start_map" else []
        if isinstance(top[0], list):
            top[0].append(item)
        else:
            top[0][top[1]] = item
        if event in _STARTS:
            stack.append([item, None])
            if depth + len(stack) > MAX_DEPTH:
                raise ValidationError(f"it is nested more than {MAX_DEPTH} levels deep")
    raise ValidationError("it ends in the middle of a value; it may be cut short")


def _events(stream: _Metered) -> Events:
    return iter(ijson.basic_parse(stream, use_float=True))


def _top_keys(opener: Opener) -> dict[str, Any]:
    """The top-level scalar "format" and "version" of a JSON object (a second, skimming pass)."""
    found: dict[str, Any] = {}
    depth, key = 0, None
    with opener(skim=True) as stream:
        for event, value in _events(stream):
            if event in ("start_map", "start_array"):
                depth += 1
            elif event in ("end_map", "end_array"):
                depth -= 1
            elif event == "map_key" and depth == 1:
                key = value
                continue
            elif depth == 1 and key in ("format", "version"):
                found[key] = value
                if len(found) == 2:
                    break
            key = None
    return found


def _items(events: Events, stream: _Metered) -> Iterator[tuple[int, Any]]:
    """The elements of the array whose start_array was just read."""
    index = 0
    for event, value in events:
        if event == "end_array":
            return
        index += 1
        yield index, _build(event, value, events, 2, stream, stream.position)


def _kind(raw: Any) -> str | None:
    if isinstance(raw, dict) and isinstance(raw.get("mapping"), dict):
        return "chatgpt"
    if isinstance(raw, dict) and "conversationId" in raw:
        return "librechat"
    if isinstance(raw, dict) and "mapping" in raw:
        return "chatgpt"  # a broken one: its parser says what is wrong
    return None


def _raw_conversations(opener: Opener) -> Iterator[tuple[str | None, int, Any]]:
    """(format or None if unknown, position, decoded conversation) for each conversation in one JSON file."""
    with opener() as stream:
        events = _events(stream)
        first = next(events, None)
        if first is None:
            raise ValidationError("it is empty")
        event, value = first
        if event == "start_array":
            for index, raw in _items(events, stream):
                yield (None if raw is _TOO_LARGE else _kind(raw)), index, raw
        elif event == "start_map":
            top: dict[str, Any] = {}
            streamed = False
            for event, key in events:
                if event == "end_map":
                    break
                event, value = next(events)
                if key == "conversations" and event == "start_array":
                    known = top if "format" in top else _top_keys(opener)
                    if known.get("format") == FORMAT:
                        problem = solo_version_problem(known.get("version"))
                        if problem:
                            raise ValidationError(problem)
                        streamed = True
                        for index, raw in _items(events, stream):
                            yield (None if raw is _TOO_LARGE else FORMAT), index, raw
                        continue
                top[key] = _build(event, value, events, 1, stream, 0)
                if top[key] is _TOO_LARGE:
                    raise ValidationError(TOO_LARGE)
            if top.get("format") == FORMAT:
                problem = solo_version_problem(top.get("version"))
                if problem:
                    raise ValidationError(problem)
                if not streamed:
                    raise ValidationError("it has no list of “conversations”")
            elif top.get("format") == ARCHIVE_FORMAT:
                raise ValidationError("this is the index of an archive: import the whole zip file instead")
            elif _kind(top) is not None:
                yield _kind(top), 1, top
            else:
                raise ValidationError(UNKNOWN_FORMAT)
        else:
            raise ValidationError(UNKNOWN_FORMAT)
        for _ in events:  # the rest must be whitespace (ijson raises on anything else)
            pass


def _title(raw: Any, index: int) -> str:
    title = raw.get("title") if isinstance(raw, dict) else None
    return one_line(title)[:200] if isinstance(title, str) and title.strip() else f"Conversation {index}"


def _conversations(opener: Opener, source: str, reading: Reading) -> Iterator[Any]:
    """Parsed conversations and skips of one JSON file; file-level problems raise ValidationError."""
    seen = 0
    try:
        for fmt, index, raw in _raw_conversations(opener):
            seen += 1
            if raw is _TOO_LARGE:
                yield Skipped(f"Conversation {index}", f"conversation {index}: {TOO_LARGE}")
                continue
            if fmt is None:
                yield Skipped(_title(raw, index), f"conversation {index}: {UNKNOWN_FORMAT}")
                continue
            try:
                parsed = _PARSERS[fmt](raw, index)
            except ValidationError as exc:
                yield Skipped(_title(raw, index), str(exc))
                continue
            except RecursionError:
                yield Skipped(_title(raw, index), f"conversation {index}: it is nested too deeply")
                continue
            reading.formats.add(fmt)
            yield parsed
    except ijson.JSONError as exc:
        message = exc.args[0] if exc.args else ""
        if isinstance(message, bytes):
            message = message.decode("utf-8", "replace")
        detail = str(message).strip().splitlines()[0] if str(message).strip() else type(exc).__name__
        cut = f" after conversation {seen}" if seen else ""
        raise _fail(source, f"it is not valid JSON{cut} ({detail}); it may be cut short or damaged") from exc
    except ValidationError as exc:
        if str(exc).startswith("the zip file"):
            raise
        raise _fail(source, str(exc)) from exc
    if seen == 0:
        raise _fail(source, "it holds no conversations")


def _zip_members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    infos = [i for i in archive.infolist() if not i.is_dir() and i.filename.lower().endswith(".json")]
    chatgpt = [i for i in infos if i.filename.rsplit("/", 1)[-1] == "conversations.json"]
    members = chatgpt[:1] or [i for i in infos if i.filename.rsplit("/", 1)[-1] != ARCHIVE_INDEX]
    if not members:
        raise _fail("the zip file", "it holds no conversation export (no .json file)")
    if sum(i.file_size for i in members) > MAX_UNZIPPED_BYTES:
        raise _fail("the zip file", f"it expands to more than {MAX_UNZIPPED_BYTES // 2**20} MB")
    return sorted(members, key=lambda i: i.filename)


def _open_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, reading: Reading, skim: bool = False
) -> _Metered:
    return _Metered(archive.open(info), reading, zipped=True, skim=skim)


def _read_zip(path: Path, reading: Reading) -> Iterator[Any]:
    try:
        with zipfile.ZipFile(path) as archive:
            members = _zip_members(archive)
            reading.bytes_read, reading.bytes_total = 0, sum(i.file_size for i in members)
            for info in members:
                opener = functools.partial(_open_member, archive, info, reading)

                if len(members) == 1:
                    yield from _conversations(opener, info.filename, reading)
                    continue
                try:  # in an archive of many files, a bad file is skipped like a bad conversation
                    yield from _conversations(opener, info.filename, reading)
                except ValidationError as exc:
                    if str(exc).startswith("the zip file"):
                        raise
                    yield Skipped(info.filename.rsplit("/", 1)[-1], str(exc))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError, zlib.error) as exc:
        raise _fail("the zip file", f"it cannot be read ({exc}); it may be damaged or cut short") from exc


def read_export(path: Path, reading: Reading) -> Generator[ParsedConversation | Skipped, None, None]:
    """Every conversation of the file at `path` (JSON or zip), parsed or skipped with a reason."""
    size = path.stat().st_size
    if size > MAX_IMPORT_BYTES:
        raise _fail("the file", f"it is larger than {MAX_IMPORT_BYTES // 2**20} MB")
    with path.open("rb") as f:
        start = f.read(4096)
    if start[:4] == b"PK\x03\x04":
        yield from _read_zip(path, reading)
        return
    try:
        codecs.getincrementaldecoder("utf-8")().decode(start, final=False)
    except UnicodeDecodeError:
        raise _fail("the file", "it is not UTF-8 text (nor a zip file)") from None
    reading.bytes_total = size

    def opener(skim: bool = False) -> _Metered:
        return _Metered(path.open("rb"), reading, zipped=False, skim=skim)

    yield from _conversations(opener, "the file", reading)
