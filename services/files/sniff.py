"""What an uploaded file is, decided from its content (magic bytes, then the format's own structure), never from
its name or the browser's content type; and a safe name to show for it.

    detected = await asyncio.to_thread(detect, path, name)   # raises Refused(reason) for what is not accepted
    detected.kind, detected.mime, detected.label, detected.pages, detected.width, detected.height

The name only chooses between the text kinds (a `.csv` that is UTF-8 text is a CSV table, a `.json` must be valid
JSON). Office files are ZIP packages: their declared sizes, entry count and compression ratios are checked and every
entry is inflated once with bounded memory (so a header that lies about its size is caught) before any parser opens
them. Images are checked with Pillow within a pixel budget; PDFs are opened with pypdf.

Blocking: call `detect` in a worker thread.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import re
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from xml.etree import ElementTree

from services.errors import ValidationError


@dataclass(frozen=True)
class Kind:
    kind: str
    mime: str
    label: str


KINDS: dict[str, Kind] = {
    k.kind: k
    for k in (
        Kind("pdf", "application/pdf", "PDF"),
        Kind(
            "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "Word document"
        ),
        Kind(
            "pptx",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "PowerPoint presentation",
        ),
        Kind("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Excel workbook"),
        Kind("txt", "text/plain", "Text file"),
        Kind("md", "text/markdown", "Markdown"),
        Kind("csv", "text/csv", "CSV table"),
        Kind("html", "text/html", "Web page"),
        Kind("json", "application/json", "JSON"),
        Kind("png", "image/png", "PNG image"),
        Kind("jpeg", "image/jpeg", "JPEG image"),
        Kind("webp", "image/webp", "WebP image"),
        Kind("gif", "image/gif", "GIF image"),
    )
}
IMAGE_KINDS = frozenset({"png", "jpeg", "webp", "gif"})
TEXT_KINDS = frozenset({"txt", "md", "csv", "html", "json"})
OFFICE_KINDS = frozenset({"docx", "pptx", "xlsx"})

MAX_PDF_PAGES = 2000
MAX_ZIP_TOTAL = 200 * 1024 * 1024  # declared uncompressed bytes of all entries
MAX_ZIP_RATIO = 100  # uncompressed / compressed, for entries over ZIP_RATIO_FLOOR
ZIP_RATIO_FLOOR = 1024 * 1024
MAX_ZIP_ENTRIES = 10_000
MAX_IMAGE_PIXELS = 50_000_000
MAX_JSON_BYTES = 32 * 1024 * 1024  # a JSON file is parsed whole (here and when its text is extracted)
MAX_NAME_CHARS = 200

ACCEPTED = (
    "PDF, Word (.docx), PowerPoint (.pptx), Excel (.xlsx), text (.txt, .md, .csv, .html, .json) "
    "and images (PNG, JPEG, WebP, GIF)"
)
_CHUNK = 1024 * 1024


class Refused(ValidationError):
    """The file is not accepted. `str(err)` says why and what to do, for the person who uploaded it."""


@dataclass(frozen=True)
class Detected:
    kind: str
    mime: str
    label: str
    pages: int | None = None  # PDF pages, PowerPoint slides
    width: int | None = None  # images
    height: int | None = None


def _detected(kind: str, **extra: int | None) -> Detected:
    k = KINDS[kind]
    return Detected(kind=k.kind, mime=k.mime, label=k.label, **extra)


def detect(path: Path, name: str) -> Detected:
    """The kind of the file at `path` (uploaded as `name`), or `Refused` with the reason."""
    size = path.stat().st_size
    if size == 0:
        raise Refused("The file is empty (0 bytes): choose the file again and upload it.")
    with path.open("rb") as f:
        head = f.read(4096)
    _refuse_programs(head)
    if head.startswith(b"%PDF-"):
        return _pdf(path)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _office(path)
    image = _image_kind(head)
    if image:
        return _image(path, image)
    _refuse_known_binaries(head)
    return _text(path, name, head)


# -- programs and other formats we name -------------------------------------------------------------------


def _refuse_programs(head: bytes) -> None:
    binary_header = b"\x00" in head[:64]  # text never holds NUL; a text file may start with "MZ"
    what = ""
    if head.startswith(b"MZ") and binary_header:
        what = "a Windows program"
    elif head.startswith(b"\x7fELF") and binary_header:
        what = "a Linux program"
    elif head[:4] in (b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe"):
        what = "a macOS program"
    elif head.startswith(b"\xca\xfe\xba\xbe"):
        what = "a Java class or macOS program"
    elif head.startswith(b"\x00asm"):
        what = "a WebAssembly program"
    if what:
        raise Refused(f"This is a program, not a document ({what}). Upload a document instead: {ACCEPTED}.")


def _refuse_known_binaries(head: bytes) -> None:
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raise Refused(
            "This is an older Office file (.doc, .xls, .ppt) or a password-protected Office file. "
            "Open it in Office, save it as .docx, .xlsx or .pptx without a password, and upload it again."
        )
    if head.startswith(b"{\\rtf"):
        raise Refused("Rich Text (.rtf) files are not read: save it as .docx or PDF and upload it again.")
    if head.startswith((b"II*\x00", b"MM\x00*", b"BM")) or head[4:12] in (
        b"ftypheic",
        b"ftypheix",
        b"ftypmif1",
        b"ftypavif",
    ):
        raise Refused(
            "Images are accepted as PNG, JPEG, WebP or GIF: convert it to one of these and upload it again."
        )
    archives = (b"\x1f\x8b", b"7z\xbc\xaf\x27\x1c", b"Rar!\x1a\x07", b"BZh", b"\xfd7zXZ\x00")
    if head.startswith(archives):
        raise Refused("This is a compressed archive: unpack it and upload the documents inside one by one.")


# -- PDF --------------------------------------------------------------------------------------------------


def _pdf(path: Path) -> Detected:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    try:
        reader = PdfReader(path, strict=False)
        # A PDF encrypted only with an owner password (print/copy restrictions) opens with the empty password.
        if reader.is_encrypted and not reader.decrypt(""):
            raise Refused(
                "The file is an encrypted PDF: remove the password (for example print it to a new PDF) "
                "and upload it again."
            )
        pages = len(reader.pages)
    except Refused:
        raise
    except DependencyError as exc:
        raise Refused(
            "The PDF is encrypted in a way that cannot be opened: remove the protection and upload it again."
        ) from exc
    except Exception as exc:  # pypdf raises many kinds of errors for broken files
        raise Refused(
            "The PDF is damaged or incomplete and cannot be read: open it, save it again (or export a new PDF) "
            "and upload that."
        ) from exc
    if pages == 0:
        raise Refused("The PDF has no pages: check the file and upload it again.")
    if pages > MAX_PDF_PAGES:
        raise Refused(
            f"The PDF has {pages:,} pages; at most {MAX_PDF_PAGES:,} are accepted. Split it into smaller files "
            "and upload those."
        )
    return _detected("pdf", pages=pages)


# -- Office (ZIP packages) --------------------------------------------------------------------------------

_MAIN_TYPES = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": "docx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml": "pptx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": "xlsx",
}
_MACRO_TYPES = (
    "application/vnd.ms-word.document.macroenabled.main+xml",
    "application/vnd.ms-excel.sheet.macroenabled.main+xml",
    "application/vnd.ms-powerpoint.presentation.macroenabled.main+xml",
)
_OTHER_OFFICE = re.compile(
    r"officedocument\.(wordprocessingml|presentationml|spreadsheetml)\.|vnd\.ms-(word|excel|powerpoint)"
)
_DAMAGED_ZIP = (
    "The file is a damaged Office document (its ZIP structure is broken): open it in Office, save it again "
    "and upload that."
)
_PLAIN_ZIP = (
    "This is a ZIP archive, not a document: unpack it and upload the documents inside one by one "
    f"({ACCEPTED})."
)
_SLIDE = re.compile(r"ppt/slides/slide\d+\.xml")
# Office keeps embedded objects (a chart's workbook, itself a ZIP package) here; they are never opened.
_EMBEDDED = re.compile(r"(word|ppt|xl)/embeddings/")


def _office(path: Path) -> Detected:
    entries = _declared_entry_count(path)
    if entries is not None and entries > MAX_ZIP_ENTRIES:
        raise Refused(_too_many_entries(entries))
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise Refused(_DAMAGED_ZIP) from exc
    with zf, path.open("rb") as raw:
        infos = zf.infolist()
        _check_declared(infos)
        by_name = {info.filename: info for info in infos}
        kind = _office_kind(raw, by_name)
        for info in infos:
            _verify_entry(raw, info)
    pages = sum(1 for n in by_name if _SLIDE.fullmatch(n)) if kind == "pptx" else None
    return _detected(kind, pages=pages)


def _too_many_entries(n: int) -> str:
    return (
        f"The document holds {n:,} parts; at most {MAX_ZIP_ENTRIES:,} are accepted. "
        "It may be damaged or crafted: open it in Office, save it again and upload that."
    )


def _declared_entry_count(path: Path) -> int | None:
    """The entry count from the end-of-central-directory record, read before zipfile parses the directory."""
    size = path.stat().st_size
    with path.open("rb") as f:
        f.seek(max(0, size - 65_557))
        tail = f.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 12 > len(tail):
        return None
    (total,) = struct.unpack("<H", tail[at + 10 : at + 12])
    return None if total == 0xFFFF else total  # 0xFFFF: a ZIP64 count follows; zipfile reads it


def _check_declared(infos: list[zipfile.ZipInfo]) -> None:
    if len(infos) > MAX_ZIP_ENTRIES:
        raise Refused(_too_many_entries(len(infos)))
    total = sum(i.file_size for i in infos)
    if total > MAX_ZIP_TOTAL:
        raise Refused(
            f"The document would unpack to {total / 1024 / 1024:,.0f} MB; at most {MAX_ZIP_TOTAL // 1024 // 1024} MB "
            "are accepted. Remove large embedded media (videos, images) or split it, and upload it again."
        )
    for i in infos:
        if i.flag_bits & 0x1:
            raise Refused(
                "The document is password-protected: save it without a password and upload it again."
            )
        if i.file_size > ZIP_RATIO_FLOOR and i.file_size > MAX_ZIP_RATIO * max(i.compress_size, 1):
            raise Refused(
                "The document contains a part that unpacks to far more than its size (a 'zip bomb'), "
                "so it was not opened. Open it in Office, save it again and upload that."
            )


def _office_kind(raw: BinaryIO, by_name: dict[str, zipfile.ZipInfo]) -> str:
    types = by_name.get("[Content_Types].xml")
    if types is None:
        if "mimetype" in by_name and by_name["mimetype"].file_size < 200:
            mimetype = b"".join(_entry_chunks(raw, by_name["mimetype"])).decode("ascii", "replace")
            if "opendocument" in mimetype:
                raise Refused(
                    "OpenDocument files (.odt, .ods, .odp) are not read yet: save it as .docx, .xlsx or .pptx "
                    "(or PDF) and upload it again."
                )
            if "epub" in mimetype:
                raise Refused("E-books (.epub) are not read yet: export it as PDF and upload it again.")
        if "META-INF/MANIFEST.MF" in by_name or any(n.endswith(".class") for n in by_name):
            raise Refused(
                f"This is a program, not a document (a Java archive). Upload a document instead: {ACCEPTED}."
            )
        raise Refused(_PLAIN_ZIP)
    if types.file_size > 1024 * 1024:
        raise Refused(_DAMAGED_ZIP)
    data = b"".join(_entry_chunks(raw, types))
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise Refused(_DAMAGED_ZIP)
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise Refused(_DAMAGED_ZIP) from exc
    office_like = False
    for el in root:
        content_type = (el.get("ContentType") or "").strip().lower()
        part = (el.get("PartName") or "").lstrip("/")
        if el.tag.endswith("Override") and content_type in _MAIN_TYPES:
            if part not in by_name:
                raise Refused(_DAMAGED_ZIP)
            return _MAIN_TYPES[content_type]
        if content_type in _MACRO_TYPES:
            raise Refused(
                "Office files with macros (.docm, .xlsm, .pptm) are not accepted: save it as .docx, .xlsx or "
                ".pptx and upload it again."
            )
        office_like = office_like or bool(_OTHER_OFFICE.search(content_type))
    if office_like:
        raise Refused(
            "This kind of Office file (a template or a slide show) is not accepted: save it as a regular "
            ".docx, .xlsx or .pptx and upload it again."
        )
    raise Refused(f"This ZIP-based file is not a document we read. Accepted: {ACCEPTED}.")


def _entry_chunks(raw: BinaryIO, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """The entry's bytes, inflated here in bounded steps: refuses an entry whose stream is longer (or shorter)
    than its declared size, so no later `zipfile.read` can be made to allocate more than was checked."""
    raw.seek(info.header_offset)
    local = raw.read(30)
    if len(local) != 30 or local[:4] != b"PK\x03\x04":
        raise Refused(_DAMAGED_ZIP)
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    raw.seek(info.header_offset + 30 + name_len + extra_len)
    left = info.compress_size
    if info.compress_type == zipfile.ZIP_STORED:
        if info.compress_size != info.file_size:
            raise Refused(_DAMAGED_ZIP)
        while left > 0:
            data = raw.read(min(_CHUNK, left))
            if not data:
                raise Refused(_DAMAGED_ZIP)
            left -= len(data)
            yield data
        return
    if info.compress_type != zipfile.ZIP_DEFLATED:
        raise Refused(
            "The document uses a compression Office does not write: save it again in Office and upload that."
        )
    inflater = zlib.decompressobj(-15)
    produced = 0
    while not inflater.eof:
        data = inflater.unconsumed_tail
        if not data and left > 0:
            data = raw.read(min(_CHUNK, left))
            left -= len(data)
        try:
            out = inflater.decompress(data, _CHUNK)
        except zlib.error as exc:
            raise Refused(_DAMAGED_ZIP) from exc
        produced += len(out)
        if produced > info.file_size:
            raise Refused(
                "The document contains a part larger than it declares (a crafted file), so it was not opened."
            )
        if not out and not data:
            break  # no input left and no progress: the stream is cut short
        if out:
            yield out
    if produced != info.file_size:
        raise Refused(_DAMAGED_ZIP)


def _verify_entry(raw: BinaryIO, info: zipfile.ZipInfo) -> None:
    first = True
    nested_ok = bool(_EMBEDDED.match(info.filename))
    if info.filename.lower().endswith(".zip") and not nested_ok:
        raise Refused("The document contains another ZIP archive inside it, so it was not opened.")
    for data in _entry_chunks(raw, info):
        if first and data.startswith(b"PK\x03\x04") and not nested_ok:
            raise Refused("The document contains another ZIP archive inside it, so it was not opened.")
        first = False


# -- images -----------------------------------------------------------------------------------------------

_PIL_FORMATS = {"png": "PNG", "jpeg": "JPEG", "gif": "GIF", "webp": "WEBP"}


def _image_kind(head: bytes) -> str | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def _image(path: Path, kind: str) -> Detected:
    from PIL import Image

    label = KINDS[kind].label
    fmt = _PIL_FORMATS[kind]
    try:
        with Image.open(path, formats=[fmt]) as im:
            width, height = im.size
            if width * height > MAX_IMAGE_PIXELS:
                raise Refused(
                    f"The image is too large ({width:,} x {height:,} pixels); at most "
                    f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels are accepted. Resize it and upload it again."
                )
            im.verify()
        if kind == "jpeg":  # verify() does not decode a JPEG: decode it at 1/8 scale to find a cut-off file
            with Image.open(path, formats=[fmt]) as im:
                im.draft("RGB", (max(1, width // 8), max(1, height // 8)))
                im.load()
    except Refused:
        raise
    except Image.DecompressionBombError as exc:
        raise Refused(
            f"The image is too large; at most {MAX_IMAGE_PIXELS // 1_000_000} megapixels are accepted. "
            "Resize it and upload it again."
        ) from exc
    except Exception as exc:
        raise Refused(f"The {label} is damaged or incomplete: export it again and upload that.") from exc
    if width <= 0 or height <= 0:
        raise Refused(f"The {label} has no pixels: export it again and upload that.")
    return _detected(kind, width=width, height=height)


# -- text -------------------------------------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_TEXT_EXTENSIONS = {
    ".md": "md",
    ".markdown": "md",
    ".csv": "csv",
    ".html": "html",
    ".htm": "html",
    ".json": "json",
}
_HTML_START = re.compile(r"\s*(<!--.*?-->\s*)*<(!doctype\s+html|html[\s>])", re.IGNORECASE | re.DOTALL)


class NotText(ValueError):
    pass


def text_encoding(head: bytes) -> tuple[str, int]:
    """The encoding of a text file from its first bytes, and the length of its byte order mark."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding, len(bom)
    return "utf-8", 0


def iter_text(path: Path, *, chunk_bytes: int = _CHUNK) -> Iterator[str]:
    """The text of a UTF-8 (or BOM-marked UTF-16/32) file in pieces, without the BOM. Raises `NotText` at
    the first invalid sequence or NUL character. Line ends are left as they are."""
    with path.open("rb") as f:
        head = f.read(4)
        encoding, bom = text_encoding(head)
        f.seek(bom)
        decoder = codecs.getincrementaldecoder(encoding)("strict")
        while True:
            data = f.read(chunk_bytes)
            try:
                text = decoder.decode(data, final=not data)
            except UnicodeDecodeError as exc:
                raise NotText(f"not {encoding}") from exc
            if "\x00" in text:
                raise NotText("NUL")
            if text:
                yield text
            if not data:
                return


def _why_not_text(head: bytes, reason: str) -> str:
    sample = head[:8192]
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13))
    if controls > max(2, len(sample) // 100):
        return f"This file type is not supported. Accepted: {ACCEPTED}."
    if reason == "NUL":
        return (
            "The file looks like text but contains NUL bytes, so it cannot be read as text: "
            "save it again as plain UTF-8 text and upload it."
        )
    return "The text file is not in UTF-8: save it with UTF-8 encoding and upload it again."


def _text(path: Path, name: str, head: bytes) -> Detected:
    ext = _extension(display_name(name))
    kind = _TEXT_EXTENSIONS.get(ext, "txt")
    sample = ""
    parts: list[str] = []
    keep_all = kind == "json"
    if keep_all and path.stat().st_size > MAX_JSON_BYTES:
        raise Refused(
            f"The JSON file is larger than {MAX_JSON_BYTES // 1024 // 1024} MB: split it, or rename it .txt "
            "to upload it as plain text."
        )
    try:
        for text in iter_text(path):
            if len(sample) < 65_536:
                sample += text[: 65_536 - len(sample)]
            if keep_all:
                parts.append(text)
    except NotText as exc:
        raise Refused(_why_not_text(head, str(exc))) from exc
    complete = len(sample) < 65_536  # the sample is the whole file
    if kind == "txt" and _HTML_START.match(sample):
        kind = "html"
    if kind == "json":
        _check_json("".join(parts))
    elif kind == "csv":
        _check_csv(sample, complete)
    return _detected(kind)


def _check_json(text: str) -> None:
    try:
        json.loads(text)
    except RecursionError as exc:
        raise Refused("The JSON file is nested too deeply to read: flatten it, or rename it .txt.") from exc
    except json.JSONDecodeError as exc:
        raise Refused(
            f"The file is named .json but is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}). "
            "Fix it, or rename it .txt to upload it as plain text."
        ) from exc


def csv_dialect(sample: str) -> type[csv.Dialect]:
    """Excel's CSV rules with the delimiter the sample uses (comma, semicolon, tab or bar)."""
    try:
        delimiter = csv.Sniffer().sniff(sample[:16_384], delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    return type("Sniffed", (csv.excel,), {"delimiter": delimiter})


def _check_csv(sample: str, complete: bool) -> None:
    try:
        rows = list(itertools.islice(csv.reader(io.StringIO(sample), csv_dialect(sample), strict=True), 50))
    except csv.Error as exc:
        if not complete and "end of data" in str(exc):
            return  # the sample ends inside a quoted field that goes on after it
        raise Refused(
            f"The file is named .csv but cannot be read as a table ({exc}). Fix it, or rename it .txt to "
            "upload it as plain text."
        ) from exc
    if not any(any(cell.strip() for cell in row) for row in rows):
        raise Refused("The CSV file has no data: check the file and upload it again.")


# -- names ------------------------------------------------------------------------------------------------

_KEEP_FORMAT = {"\u200c", "\u200d"}  # zero-width (non-)joiners: needed by Persian and emoji sequences


def _extension(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem.strip(" .") or not ext or len(ext) > 15 or " " in ext:
        return ""
    return "." + ext.lower()


def display_name(raw: str) -> str:
    """The uploaded name made safe to show: no folders, control or bidi-override characters, whitespace
    collapsed, at most 200 characters with the extension kept; never empty. Never use it as a path."""
    name = re.split(r"[/\\]", raw or "")[-1]
    name = unicodedata.normalize("NFC", name)
    cleaned = []
    for ch in name:
        category = unicodedata.category(ch)
        if ch.isspace():
            cleaned.append(" ")
        elif category in ("Cc", "Cs", "Co", "Cn") or (category == "Cf" and ch not in _KEEP_FORMAT):
            continue  # controls, lone surrogates, bidi overrides and other invisible format characters
        else:
            cleaned.append(ch)
    name = " ".join("".join(cleaned).split()).strip(" .")
    if not name:
        return "file"
    ext = _extension(name)
    stem = name[: len(name) - len(ext)] if ext else name
    stem = stem.rstrip(" .")
    if not stem:
        stem = "file"
    if len(stem) + len(ext) > MAX_NAME_CHARS:
        stem = stem[: MAX_NAME_CHARS - len(ext)].rstrip(" .") or "file"
    return stem + ext
