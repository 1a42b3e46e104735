"""Real test documents, made here without a network: PDF (hand-written, with a Helvetica font and text content
streams), encrypted PDF (pypdf), Word, PowerPoint and Excel files (python-docx, python-pptx, openpyxl), images
(Pillow), a zip-bomb Word file, a ZIP whose header lies about a part's size, and a Windows program header.

Every maker returns the file's bytes; `write(tmp_path, name, data)` puts them on disk.
"""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Sequence
from pathlib import Path

# A Word block: a paragraph (str), a heading ((level, text)), or a table (rows of cells).
Block = str | tuple[int, str] | list[list[str]]

# A minimal Windows program: the DOS header ("MZ", e_lfanew at 0x3C pointing at 0x40), then "PE\0\0" and an
# empty COFF header.
EXE_BYTES = b"MZ" + b"\x90\x00" + b"\x00" * 56 + struct.pack("<I", 0x40) + b"PE\x00\x00" + b"\x00" * 20


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def _pdf_string(line: str) -> bytes:
    """A PDF literal string in WinAnsi (cp1252) encoding, with bytes above 127 as octal escapes."""
    out = bytearray(b"(")
    for byte in line.encode("cp1252", errors="replace"):
        if byte in b"()\\":
            out += b"\\" + bytes([byte])
        elif byte < 32 or byte > 126:
            out += b"\\%03o" % byte
        else:
            out.append(byte)
    return bytes(out + b")")


def make_pdf(pages: Sequence[str]) -> bytes:
    """A PDF with one page per string; each line of a string is one line of 11 pt Helvetica text.
    pypdf's `extract_text` gives the lines back."""
    count = len(pages)
    font = 3
    page_ids = [4 + 2 * i for i in range(count)]
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % p for p in page_ids) + b"] /Count %d >>" % count,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for i, text in enumerate(pages):
        lines = text.split("\n")
        ops = [b"BT", b"/F1 11 Tf", b"14 TL", b"72 740 Td"]
        for n, line in enumerate(lines):
            ops.append((b"T* " if n else b"") + _pdf_string(line) + b" Tj")
        ops.append(b"ET")
        stream = b"\n".join(ops)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 %d 0 R >> >> "
            b"/Contents %d 0 R >>" % (font, page_ids[i] + 1)
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n" % (len(objects) + 1)
    out += b"0000000000 65535 f \n"
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def make_encrypted_pdf(
    pages: Sequence[str], *, user_password: str = "secret", owner_password: str = "owner"
) -> bytes:
    """`make_pdf(pages)` encrypted by pypdf's writer. With `user_password=""` it opens without a password
    (only the owner's permissions are protected)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(pages))))
    writer.encrypt(user_password=user_password, owner_password=owner_password)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def make_docx(blocks: Sequence[Block]) -> bytes:
    """A Word document: a str is a paragraph, (level, text) a heading, a list of rows a table."""
    from docx import Document

    doc = Document()
    for block in blocks:
        if isinstance(block, str):
            doc.add_paragraph(block)
        elif isinstance(block, tuple):
            level, text = block
            doc.add_heading(text, level=level)
        else:
            columns = max((len(row) for row in block), default=1)
            table = doc.add_table(rows=len(block), cols=columns)
            for r, row in enumerate(block):
                for c, cell in enumerate(row):
                    table.cell(r, c).text = cell
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def make_pptx(slides: Sequence[tuple[str, Sequence[str]]]) -> bytes:
    """A presentation: one (title, bullet lines) per slide, on the "Title and Content" layout."""
    from pptx import Presentation

    prs = Presentation()
    layout = prs.slide_layouts[1]
    for title, lines in slides:
        slide = prs.slides.add_slide(layout)
        slide.shapes.title.text = title
        body = slide.placeholders[1].text_frame
        for n, line in enumerate(lines):
            paragraph = body.paragraphs[0] if n == 0 else body.add_paragraph()
            paragraph.text = line
    buf = io.BytesIO()
    prs.save(buf)
    return buf.getvalue()


def make_xlsx(sheets: dict[str, Sequence[Sequence[object]]]) -> bytes:
    """A workbook with one sheet per entry (name -> rows of cell values), in order."""
    from openpyxl import Workbook

    wb = Workbook()
    first = True
    for name, rows in sheets.items():
        ws = wb.active if first else wb.create_sheet()
        assert ws is not None
        ws.title = name
        first = False
        for row in rows:
            ws.append(list(row))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def make_image(kind: str, width: int, height: int, color: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    """An image of one colour with a stripe, saved by Pillow as png, jpeg, webp or gif."""
    from PIL import Image

    im = Image.new("RGB", (width, height), color)
    for x in range(min(width, 8)):
        for y in range(height):
            im.putpixel((x, y), (255, 255, 255))
    buf = io.BytesIO()
    im.save(buf, format={"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF"}[kind])
    return buf.getvalue()


def make_png(width: int, height: int) -> bytes:
    return make_image("png", width, height)


def make_zip_bomb_docx(zeros: int = 8 * 1024 * 1024) -> bytes:
    """A real Word document plus one part of `zeros` zero bytes: it deflates about 1000 to 1."""
    buf = io.BytesIO(make_docx(["A document with a very large hidden part."]))
    with zipfile.ZipFile(buf, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(
            "word/media/zeros.bin", b"\x00" * zeros, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9
        )
    return buf.getvalue()


def make_lying_docx(real: int = 8 * 1024 * 1024, declared: int = 1000) -> bytes:
    """A real Word document plus a part that inflates to `real` zero bytes while its headers declare `declared`
    (too small for any ratio limit to apply): the file that makes `zipfile.read` allocate what was never checked."""
    name = b"word/media/lie.bin"
    buf = io.BytesIO(make_docx(["A document whose part lies about its size."]))
    with zipfile.ZipFile(buf, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name.decode(), b"\x00" * real, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    data = bytearray(buf.getvalue())
    at = 0
    while (at := data.find(b"PK\x01\x02", at + 1)) > 0:  # central directory entries
        (name_len,) = struct.unpack_from("<H", data, at + 28)
        if bytes(data[at + 46 : at + 46 + name_len]) == name:
            (local,) = struct.unpack_from("<I", data, at + 42)
            struct.pack_into("<I", data, at + 24, declared)
            struct.pack_into("<I", data, local + 22, declared)
            return bytes(data)
    raise AssertionError("the entry was not written")


def make_zip(files: dict[str, bytes]) -> bytes:
    """A plain ZIP archive."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()
