"""The text of an accepted file, in document order, with its structure: pages, slides, sheets and headings.

    sections = await asyncio.to_thread(extract, path, detected.kind)   # raises ExtractError(reason)
    sections.truncated, sections.notes                                 # what was not read, and why

One `Section` per PDF page (1-based `page`), per slide (`page` = slide number, `heading` = its title), per sheet
(`heading` = the sheet's name) and per heading of Word, HTML and Markdown documents (`heading` = the heading's
text). CSV rows read "a | b | c" with the header row as every section's heading. Images have no text: [].

Limits: at most `max_chars` characters of text and `max_seconds` of work (the rest is not read and a note says
so), `MAX_SHEET_ROWS` rows per sheet and `MAX_COLUMNS` cells per row. Every parser here is iterative (HTML is
tokenised by the stdlib's HTMLParser, not built into a tree), so deep nesting cannot exhaust the stack; the
Office files were checked for zip bombs by `services.files.sniff.detect` first.

Blocking: call `extract` in a worker thread.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from services.errors import ValidationError
from services.files.sniff import IMAGE_KINDS, KINDS, MAX_JSON_BYTES, NotText, csv_dialect, iter_text

MAX_SHEET_ROWS = 100_000
MAX_COLUMNS = 200
MAX_HEADING_CHARS = 300
MAX_SECONDS = 300.0
FLUSH_CHARS = 1_000_000  # a long stretch under one heading is stored as several sections of about this size

NO_TEXT_LAYER = (
    "This PDF has no text layer: scanned PDFs are not read yet. Run it through OCR (most scanner apps and "
    "PDF editors can) and upload the result."
)


@dataclass
class Section:
    text: str
    page: int | None = None
    heading: str | None = None


class Sections(list[Section]):
    """The sections, plus whether the limits cut the text short (`truncated`) and notes for the user."""

    def __init__(self) -> None:
        super().__init__()
        self.truncated = False
        self.notes: list[str] = []


class ExtractError(ValidationError):
    """The file's text cannot be read. `str(err)` says why and what to do."""


class _Full(Exception):
    """A limit was reached: stop reading, keep what was read."""


_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ud800-\udfff]")
_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")


def clean_text(text: str) -> str:
    """Line ends as "\\n", no control characters (Postgres text cannot hold NUL), at most one blank line."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x0c", "\n")
    text = _CONTROLS.sub("", text)
    text = _TRAILING_SPACE.sub("\n", text)
    return _BLANK_LINES.sub("\n\n", text).strip("\n")


def _heading(text: str | None) -> str | None:
    if text is None:
        return None
    one_line = " ".join(_CONTROLS.sub("", text).split())
    return one_line[:MAX_HEADING_CHARS] or None


class _Out:
    def __init__(self, max_chars: int, max_seconds: float) -> None:
        self.sections = Sections()
        self.room = max_chars
        self.max_chars = max_chars
        self.max_seconds = max_seconds
        self.deadline = time.monotonic() + max_seconds

    def add(self, text: str, page: int | None = None, heading: str | None = None) -> None:
        text = clean_text(text)
        if not text.strip():
            return
        if len(text) > self.room:
            text = text[: self.room]
            self.sections.truncated = True
            self.sections.notes.append(
                f"Only the first {self.max_chars:,} characters were read; the rest of the file was not."
            )
            if text.strip():
                self.sections.append(Section(text, page, _heading(heading)))
            raise _Full
        self.room -= len(text)
        self.sections.append(Section(text, page, _heading(heading)))

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            self.sections.truncated = True
            self.sections.notes.append(
                f"Reading stopped after {self.max_seconds:.0f} seconds; the rest of the file was not read."
            )
            raise _Full

    def note(self, text: str) -> None:
        if text not in self.sections.notes:
            self.sections.notes.append(text)


class _Buffer:
    """Paragraphs under one heading; flushed as a section when the heading changes or it grows large."""

    def __init__(self, out: _Out, heading: str | None = None, page: int | None = None) -> None:
        self.out, self.heading, self.page = out, heading, page
        self.parts: list[str] = []
        self.size = 0

    def append(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)
        if self.size > FLUSH_CHARS:
            self.flush()

    def flush(self) -> None:
        if self.parts:
            text = "\n\n".join(self.parts)
            self.parts, self.size = [], 0
            self.out.add(text, self.page, self.heading)

    def start(self, heading: str | None) -> None:
        self.flush()
        self.heading = heading


def extract(
    path: Path, kind: str, *, max_chars: int = 20_000_000, max_seconds: float = MAX_SECONDS
) -> list[Section]:
    """The sections of the file at `path` of `kind` (as `detect` decided). Returns a `Sections` list."""
    if kind in IMAGE_KINDS:
        return Sections()
    reader = _READERS.get(kind)
    if reader is None:
        raise ExtractError(f"Files of kind {kind!r} cannot be read.")
    out = _Out(max_chars, max_seconds)
    try:
        reader(path, out)
    except _Full:
        pass
    except ExtractError:
        raise
    except NotText as exc:
        raise ExtractError(
            "The file is not UTF-8 text: save it with UTF-8 encoding and upload it again."
        ) from exc
    except RecursionError as exc:
        raise ExtractError("The file is nested too deeply to read.") from exc
    except Exception as exc:  # the parsers raise many kinds of errors on damaged files
        label = KINDS[kind].label
        raise ExtractError(
            f"The {label} could not be read (it may be damaged): open it, save it again and upload that."
        ) from exc
    if not out.sections:
        if kind == "pdf":
            raise ExtractError(NO_TEXT_LAYER)
        raise ExtractError(
            "The file has no text to read: check that it is the right file and upload it again."
        )
    return out.sections


# -- PDF --------------------------------------------------------------------------------------------------


def _pdf(path: Path, out: _Out) -> None:
    from pypdf import PdfReader

    reader = PdfReader(path, strict=False)
    if reader.is_encrypted and not reader.decrypt(""):
        raise ExtractError("The file is an encrypted PDF: remove the password and upload it again.")
    failed: list[int] = []
    try:
        for number, page in enumerate(reader.pages, start=1):
            out.tick()
            try:
                text = page.extract_text()
            except Exception:  # one broken page does not lose the others
                failed.append(number)
                continue
            out.add(text, number)
    finally:
        if failed:
            shown = ", ".join(str(n) for n in failed[:10]) + (" ..." if len(failed) > 10 else "")
            out.note(f"The text of page(s) {shown} could not be read.")


# -- Word -------------------------------------------------------------------------------------------------

_HEADING_STYLE = re.compile(r"(heading\s*\d|title)$", re.IGNORECASE)


def _row_text(cells: list[str]) -> str:
    while cells and not cells[-1]:
        cells.pop()
    return " | ".join(cells[:MAX_COLUMNS])


def _docx(path: Path, out: _Out) -> None:
    from docx import Document
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    doc = Document(str(path))
    buf = _Buffer(out)
    for n, block in enumerate(doc.iter_inner_content()):
        if n % 200 == 0:
            out.tick()
        if isinstance(block, Paragraph):
            text = block.text
            style = block.style.name if block.style is not None else ""
            if style and _HEADING_STYLE.match(style) and text.strip():
                buf.start(text)
            elif text.strip():
                buf.append(text)
        elif isinstance(block, Table):
            rows = []
            for row in block.rows:
                cells, seen = [], None
                for cell in row.cells:
                    if cell._tc is seen:  # a merged cell is returned once per grid column it spans
                        continue
                    seen = cell._tc
                    cells.append(" ".join(cell.text.split()))
                line = _row_text(cells)
                if line:
                    rows.append(line)
            if rows:
                buf.append("\n".join(rows))
    buf.flush()


# -- PowerPoint -------------------------------------------------------------------------------------------


def _shape_texts(shapes: Any, skip: Any, depth: int = 0) -> Iterator[str]:
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    for shape in shapes:
        if shape is skip or (skip is not None and shape.shape_id == skip.shape_id):
            continue
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP and depth < 10:
            yield from _shape_texts(shape.shapes, None, depth + 1)
        elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            yield shape.text_frame.text
        elif getattr(shape, "has_table", False) and shape.has_table:
            rows = [_row_text([" ".join(c.text.split()) for c in row.cells]) for row in shape.table.rows]
            yield "\n".join(r for r in rows if r)


def _pptx(path: Path, out: _Out) -> None:
    from pptx import Presentation

    prs = Presentation(str(path))
    for number, slide in enumerate(prs.slides, start=1):
        out.tick()
        title_shape = slide.shapes.title
        title = (
            title_shape.text_frame.text if title_shape is not None and title_shape.has_text_frame else None
        )
        parts = [t for t in _shape_texts(slide.shapes, title_shape) if t.strip()]
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame
            if notes is not None and notes.text.strip():
                parts.append("Notes: " + notes.text)
        text = "\n\n".join(parts) or (title or "")
        out.add(text, number, title)


# -- Excel ------------------------------------------------------------------------------------------------


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date().isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return " ".join(str(value).split())


def _xlsx(path: Path, out: _Out) -> None:
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        for ws in wb.worksheets:
            if not hasattr(ws, "iter_rows"):
                continue  # a chart sheet
            buf = _Buffer(out, heading=ws.title)
            lines: list[str] = []
            for n, row in enumerate(ws.iter_rows(values_only=True)):
                if n % 1000 == 0:
                    out.tick()
                if n >= MAX_SHEET_ROWS:
                    out.note(f"Only the first {MAX_SHEET_ROWS:,} rows of sheet {ws.title!r} were read.")
                    break
                line = _row_text([_cell(v) for v in row[:MAX_COLUMNS]])
                if line:
                    lines.append(line)
                if len(lines) >= 2000:
                    buf.append("\n".join(lines))
                    lines = []
            if lines:
                buf.append("\n".join(lines))
            buf.flush()
    finally:
        wb.close()


# -- text kinds -------------------------------------------------------------------------------------------


def _lines(path: Path) -> Iterator[str]:
    """The file's lines with "\\n" line ends ("\\r\\n" and "\\r" become "\\n"); the last may have none."""
    rest = ""
    for piece in iter_text(path):
        piece = rest + piece
        hold = piece.endswith("\r")  # its "\n" may start the next piece
        if hold:
            piece = piece[:-1]
        lines = piece.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        rest = lines.pop() + ("\r" if hold else "")
        for line in lines:
            yield line + "\n"
    if rest:
        yield rest.replace("\r", "\n")


def _txt(path: Path, out: _Out) -> None:
    buf = _Buffer(out)
    para: list[str] = []
    for n, line in enumerate(_lines(path)):
        if n % 10_000 == 0:
            out.tick()
        if line.strip():
            para.append(line.rstrip("\n"))
        elif para:
            buf.append("\n".join(para))
            para = []
    if para:
        buf.append("\n".join(para))
    buf.flush()


_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r" {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")


def _md(path: Path, out: _Out) -> None:
    buf = _Buffer(out)
    para: list[str] = []
    fence = ""

    def end_paragraph() -> None:
        nonlocal para
        if para:
            buf.append("\n".join(para))
            para = []

    for n, raw in enumerate(_lines(path)):
        if n % 10_000 == 0:
            out.tick()
        line = raw.rstrip("\n")
        opener = _FENCE.match(line)
        if fence:
            para.append(line)
            if opener and opener.group(1)[0] == fence[0] and len(opener.group(1)) >= len(fence):
                fence = ""
            continue
        if opener:
            fence = opener.group(1)
            para.append(line)
            continue
        atx = _ATX.match(line)
        if atx:
            end_paragraph()
            buf.start(atx.group(2) or None)
            continue
        if para and _SETEXT.match(line):  # "Title" over "=====" or "-----": the paragraph is a heading
            heading = " ".join(para)
            para = []
            buf.start(heading)
            continue
        if line.strip():
            para.append(line)
        else:
            end_paragraph()
    end_paragraph()
    buf.flush()


def _csv(path: Path, out: _Out) -> None:
    lines = _lines(path)
    first = list(_take(lines, 200))
    dialect = csv_dialect("".join(first))
    reader = csv.reader(_chain(first, lines), dialect)
    header: str | None = None
    buf = _Buffer(out)
    rows: list[str] = []
    for n, row in enumerate(reader):
        if n % 10_000 == 0:
            out.tick()
        line = _row_text([" ".join(cell.split()) for cell in row[:MAX_COLUMNS]])
        if not line:
            continue
        if header is None:
            header = line
            buf.start(header)
            continue
        rows.append(line)
        if len(rows) >= 2000:
            buf.append("\n".join(rows))
            rows = []
    if rows:
        buf.append("\n".join(rows))
    buf.flush()
    if header is not None and not out.sections:
        out.add(header, None, header)  # a table with a header row only


def _take(lines: Iterator[str], n: int) -> Iterator[str]:
    for _ in range(n):
        line = next(lines, None)
        if line is None:
            return
        yield line


def _chain(first: list[str], rest: Iterator[str]) -> Iterator[str]:
    yield from first
    yield from rest


def _json(path: Path, out: _Out) -> None:
    if path.stat().st_size > MAX_JSON_BYTES:
        raise ExtractError(
            f"The JSON file is larger than {MAX_JSON_BYTES // 1024 // 1024} MB and was not read."
        )
    value = json.loads("".join(iter_text(path)))
    out.add(json.dumps(value, indent=2, ensure_ascii=False))


# -- HTML -------------------------------------------------------------------------------------------------

_SKIP = {"script", "style", "noscript", "template", "svg", "math", "iframe", "object", "canvas"}
_BLOCK = {
    "address", "article", "aside", "blockquote", "body", "br", "dd", "details", "dialog", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "footer", "form", "header", "hr", "li", "main", "nav", "ol", "p",
    "pre", "section", "summary", "table", "tbody", "thead", "tfoot", "tr", "ul", "caption",
}  # fmt: skip
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}


class _HtmlText(HTMLParser):
    def __init__(self, out: _Out) -> None:
        super().__init__(convert_charrefs=True)
        self.buf = _Buffer(out)
        self.out = out
        self.skip = 0  # depth inside script/style/...
        self.in_title = False
        self.title = ""
        self.pre = 0
        self.heading: list[str] | None = None
        self.text: list[str] = []
        self.size = 0
        self.started = False
        self.cells = 0  # cells so far in the table row

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip += 1
        elif tag == "title":
            self.in_title = True
        elif tag in _HEADINGS and not self.skip:
            self._flush_text()
            self.heading = []
        elif tag in ("td", "th"):
            self._write(" | " if self.cells else "")
            self.cells += 1
        elif tag == "li":
            self._write("\n- ")
        elif tag == "tr":
            self.cells = 0
            self._write("\n")
        elif tag in _BLOCK:
            self.pre += tag == "pre"
            self._write("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "hr"):
            self._write("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag == "title":
            self.in_title = False
        elif tag in _HEADINGS and self.heading is not None:
            self.buf.start(" ".join("".join(self.heading).split()) or None)
            self.started = True
            self.heading = None
        elif tag in _BLOCK and tag not in ("li", "tr"):  # the next item or row starts its own line
            if tag == "pre":
                self.pre = max(0, self.pre - 1)
            self._write("\n")

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.in_title:
            self.title += data
        elif self.heading is not None:
            self.heading.append(data)
        else:
            self._write(data if self.pre else re.sub(r"\s+", " ", data))

    def _write(self, text: str) -> None:
        self.text.append(text)
        self.size += len(text)
        if self.size > FLUSH_CHARS:
            self._flush_text()

    def _flush_text(self) -> None:
        if not self.started and self.buf.heading is None and self.title.strip():
            self.buf.heading = " ".join(self.title.split())  # the page's title heads what comes before any h1
        raw = "".join(self.text)
        self.text, self.size = [], 0
        lines = [line.rstrip() if self.pre else line.strip() for line in raw.split("\n")]
        text = "\n".join(lines).strip()
        if text:
            self.buf.append(text)

    def finish(self) -> None:
        self.close()
        self._flush_text()
        self.buf.flush()


def _html(path: Path, out: _Out) -> None:
    parser = _HtmlText(out)
    for piece in iter_text(path, chunk_bytes=256 * 1024):
        out.tick()
        parser.feed(piece)
    parser.finish()


_READERS: dict[str, Callable[[Path, _Out], None]] = {
    "pdf": _pdf,
    "docx": _docx,
    "pptx": _pptx,
    "xlsx": _xlsx,
    "txt": _txt,
    "md": _md,
    "csv": _csv,
    "html": _html,
    "json": _json,
}
