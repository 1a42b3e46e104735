"""What a file is comes from its content (services/files/sniff.py): every accepted kind, every refusal, and the
names shown for uploads. The files are real, made by tests/fakes/documents.py."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from services.files.sniff import (
    IMAGE_KINDS,
    KINDS,
    MAX_PDF_PAGES,
    TEXT_KINDS,
    Detected,
    Refused,
    detect,
    display_name,
)
from tests.fakes import documents as docs


def _detect(tmp_path: Path, name: str, data: bytes) -> Detected:
    return detect(docs.write(tmp_path, "upload.bin", data), name)


def _refused(tmp_path: Path, name: str, data: bytes) -> str:
    with pytest.raises(Refused) as err:
        _detect(tmp_path, name, data)
    return str(err.value)


def test_every_kind_has_a_mime_type_and_a_label() -> None:
    assert set(KINDS) == {"pdf", "docx", "pptx", "xlsx", "txt", "md", "csv", "html", "json"} | IMAGE_KINDS
    assert TEXT_KINDS == {"txt", "md", "csv", "html", "json"}
    for kind in KINDS.values():
        assert "/" in kind.mime and kind.label
    assert KINDS["docx"].label == "Word document"


def test_pdf_is_read_with_its_page_count_whatever_its_name(tmp_path: Path) -> None:
    got = _detect(tmp_path, "report.txt", docs.make_pdf(["one", "two", "three"]))
    assert (got.kind, got.mime, got.label, got.pages) == ("pdf", "application/pdf", "PDF", 3)


def test_office_files_are_told_apart_by_their_main_part(tmp_path: Path) -> None:
    word = _detect(tmp_path, "a.xlsx", docs.make_docx([(1, "Title"), "Body"]))
    slides = _detect(tmp_path, "a.docx", docs.make_pptx([("One", ["a"]), ("Two", ["b"])]))
    sheet = _detect(tmp_path, "a.pptx", docs.make_xlsx({"Data": [["a", 1]]}))
    assert (word.kind, slides.kind, sheet.kind) == ("docx", "pptx", "xlsx")
    assert slides.pages == 2 and word.pages is None
    assert word.mime == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.mark.parametrize("kind", sorted(IMAGE_KINDS))
def test_images_are_verified_and_measured(tmp_path: Path, kind: str) -> None:
    got = _detect(tmp_path, "picture.pdf", docs.make_image(kind, 40, 30))
    assert (got.kind, got.width, got.height, got.mime) == (kind, 40, 30, KINDS[kind].mime)


@pytest.mark.parametrize(
    ("name", "data", "kind"),
    [
        ("notes.txt", b"Plain notes\nline two\n", "txt"),
        ("notes", "Caf\u00e9 cr\u00e8me".encode(), "txt"),
        ("notes.pdf", b"Named .pdf, but it is text", "txt"),
        ("readme.md", b"# Title\n\nText", "md"),
        ("readme.markdown", b"Title\n=====\n", "md"),
        ("table.csv", b"name,age\nAlice,30\nBob,41\n", "csv"),
        ("table.csv", b"name;age\nAlice;30\n", "csv"),
        ("page.html", b"<p>Hello</p>", "html"),
        ("page.htm", b"<p>Hello</p>", "html"),
        ("page.txt", b"  <!DOCTYPE html><html><body>Hi</body></html>", "html"),
        ("saved", b"<html lang='en'><body>Hi</body></html>", "html"),
        ("data.json", b'{"a": [1, 2, {"b": null}]}', "json"),
        ("bom.txt", b"\xef\xbb\xbfWith a BOM", "txt"),
        ("utf16.txt", "UTF-16 text, \u00e9t\u00e9".encode("utf-16"), "txt"),
        ("utf16.json", '{"k": "v"}'.encode("utf-16"), "json"),
        ("script.sh", b"#!/bin/sh\necho hello\n", "txt"),
        ("MZ.txt", b"MZ is how this note starts, and it is text.", "txt"),
    ],
)
def test_text_kinds(tmp_path: Path, name: str, data: bytes, kind: str) -> None:
    assert _detect(tmp_path, name, data).kind == kind


def test_a_program_renamed_pdf_is_refused(tmp_path: Path) -> None:
    reason = _refused(tmp_path, "invoice.pdf", docs.EXE_BYTES)
    assert reason.startswith("This is a program, not a document")
    elf = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56
    assert "program" in _refused(tmp_path, "notes.txt", elf)
    assert "program" in _refused(tmp_path, "a.docx", b"\xcf\xfa\xed\xfe\x07\x00\x00\x01" + b"\x00" * 32)
    assert "program" in _refused(tmp_path, "a.txt", b"\xca\xfe\xba\xbe\x00\x00\x00\x34" + b"\x00" * 32)
    jar = docs.make_zip(
        {"META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\n", "a/B.class": b"\xca\xfe\xba\xbe"}
    )
    assert "program" in _refused(tmp_path, "a.docx", jar)


def test_an_encrypted_pdf_is_refused_with_what_to_do(tmp_path: Path) -> None:
    reason = _refused(tmp_path, "secret.pdf", docs.make_encrypted_pdf(["classified"]))
    assert "encrypted PDF" in reason and "remove the password" in reason


def test_a_pdf_protected_only_by_an_owner_password_opens(tmp_path: Path) -> None:
    got = _detect(tmp_path, "locked.pdf", docs.make_encrypted_pdf(["a", "b"], user_password=""))
    assert (got.kind, got.pages) == ("pdf", 2)


@pytest.mark.parametrize("keep", [0.5, 0.97])
def test_a_truncated_pdf_is_refused(tmp_path: Path, keep: float) -> None:
    pdf = docs.make_pdf([f"page {n}" for n in range(20)])
    reason = _refused(tmp_path, "cut.pdf", pdf[: int(len(pdf) * keep)])
    assert "damaged or incomplete" in reason


def test_a_pdf_with_too_many_pages_is_refused(tmp_path: Path) -> None:
    assert _detect(tmp_path, "big.pdf", docs.make_pdf(["x"] * MAX_PDF_PAGES)).pages == MAX_PDF_PAGES
    reason = _refused(tmp_path, "huge.pdf", docs.make_pdf(["x"] * (MAX_PDF_PAGES + 1)))
    assert "2,001 pages" in reason and "Split it" in reason


def test_a_zip_bomb_docx_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    assert "zip bomb" in _refused(tmp_path, "bomb.docx", docs.make_zip_bomb_docx())


def test_a_part_larger_than_it_declares_is_refused(tmp_path: Path) -> None:
    # Declared 1000 bytes (under every ratio rule), inflates to 8 MB: only inflating it finds out.
    assert "larger than it declares" in _refused(tmp_path, "lie.docx", docs.make_lying_docx())


def _docx_plus(extra: dict[str, bytes], *, compress: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO(docs.make_docx(["Body"]))
    with zipfile.ZipFile(buf, "a", compression=compress) as zf:
        for name, data in extra.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_declared_size_and_entry_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from services.files import sniff

    monkeypatch.setattr(sniff, "MAX_ZIP_TOTAL", 100_000)
    assert "would unpack to" in _refused(
        tmp_path, "big.docx", _docx_plus({"word/media/a.bin": bytes(150_000)})
    )
    monkeypatch.setattr(sniff, "MAX_ZIP_ENTRIES", 20)
    many = _docx_plus({f"word/media/{n}.txt": b"x" for n in range(30)})
    assert "at most 20 are accepted" in _refused(tmp_path, "many.docx", many)


def test_a_nested_zip_is_refused_but_an_embedded_workbook_is_not(tmp_path: Path) -> None:
    inner = docs.make_zip({"a.txt": b"inside"})
    assert "another ZIP archive" in _refused(tmp_path, "n.docx", _docx_plus({"word/media/x.bin": inner}))
    assert "another ZIP archive" in _refused(tmp_path, "n.docx", _docx_plus({"customXml/x.zip": b"plain"}))
    chart = _docx_plus({"word/embeddings/Microsoft_Excel_Worksheet.xlsx": docs.make_xlsx({"S": [[1]]})})
    assert _detect(tmp_path, "chart.docx", chart).kind == "docx"


def test_zip_archives_and_other_zip_formats_are_refused(tmp_path: Path) -> None:
    plain = docs.make_zip({"report.pdf": docs.make_pdf(["x"]), "notes.txt": b"hi"})
    assert _refused(tmp_path, "report.docx", plain).startswith("This is a ZIP archive, not a document")
    odt = docs.make_zip({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<x/>"})
    assert "OpenDocument" in _refused(tmp_path, "a.odt", odt)
    xps = docs.make_zip(
        {
            "[Content_Types].xml": b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
            b'package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/></Types>',
            "doc.xml": b"<x/>",
        }
    )
    assert "not a document we read" in _refused(tmp_path, "a.docx", xps)
    assert "damaged Office document" in _refused(tmp_path, "a.docx", docs.make_docx(["x"])[:-200])


def test_a_macro_enabled_document_is_refused(tmp_path: Path) -> None:
    data = bytearray(docs.make_docx(["x"]))
    buf = io.BytesIO(bytes(data))
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == "[Content_Types].xml":
                body = body.replace(
                    b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
                    b"application/vnd.ms-word.document.macroEnabled.main+xml",
                )
            dst.writestr(info.filename, body)
    assert "macros" in _refused(tmp_path, "a.docm", out.getvalue())


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("photo.png", docs.make_png(20, 20)[:60], "PNG image is damaged"),
        ("photo.jpg", docs.make_image("jpeg", 64, 64)[:200], "JPEG image is damaged"),
        ("empty.txt", b"", "The file is empty"),
        ("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "older Office file"),
        ("scan.tiff", b"II*\x00" + b"\x00" * 50, "PNG, JPEG, WebP or GIF"),
        ("a.txt.gz", b"\x1f\x8b\x08\x00" + b"\x00" * 20, "compressed archive"),
        ("doc.rtf", b"{\\rtf1\\ansi Hello}", "Rich Text"),
    ],
)
def test_damaged_images_and_named_formats_are_refused(
    tmp_path: Path, name: str, data: bytes, expected: str
) -> None:
    assert expected in _refused(tmp_path, name, data)


def test_an_image_over_the_pixel_budget_is_refused(tmp_path: Path) -> None:
    # A real 10000 x 6000 PNG of one colour is small on disk: only its header tells it is 60 megapixels.
    from PIL import Image

    buf = io.BytesIO()
    Image.new("1", (10_000, 6_000)).save(buf, format="PNG")
    reason = _refused(tmp_path, "huge.png", buf.getvalue())
    assert "10,000 x 6,000 pixels" in reason and "50 megapixels" in reason


def test_binary_garbage_is_refused_naming_what_is_accepted(tmp_path: Path) -> None:
    garbage = bytes((n * 7919) % 256 for n in range(4096))
    reason = _refused(tmp_path, "data.pdf", garbage)
    assert reason.startswith("This file type is not supported") and "Word (.docx)" in reason


def test_nul_bytes_in_text_are_refused(tmp_path: Path) -> None:
    reason = _refused(tmp_path, "notes.txt", b"Some notes that look like text\x00 but hold a NUL byte.")
    assert "NUL bytes" in reason


def test_text_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    assert "not in UTF-8" in _refused(
        tmp_path, "latin.txt", "Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e".encode("latin-1")
    )


def test_invalid_json_named_json_is_refused_with_where(tmp_path: Path) -> None:
    reason = _refused(tmp_path, "data.json", b'{"a": 1,\n "b": }')
    assert "not valid JSON (line 2" in reason and "rename it .txt" in reason
    assert _detect(tmp_path, "data.txt", b'{"a": 1,\n "b": }').kind == "txt"
    assert "nested too deeply" in _refused(tmp_path, "deep.json", b"[" * 100_000 + b"]" * 100_000)


def test_a_broken_csv_is_refused(tmp_path: Path) -> None:
    assert "cannot be read as a table" in _refused(tmp_path, "t.csv", b'name,note\nAlice,"unterminated\n')
    assert "cannot be read as a table" in _refused(tmp_path, "t.csv", b'name,note\nAlice,"quoted"junk\n')
    assert "no data" in _refused(tmp_path, "t.csv", b"\n\n ,\n")


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("report.pdf", "report.pdf"),
        ("C:\\Users\\ann\\Desktop\\report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("  many   spaces\tand\ttabs .txt", "many spaces and tabs.txt"),
        ("evil\u202etxt.exe", "eviltxt.exe"),
        ("bell\x07\x00name.md", "bellname.md"),
        ("line\nbreak.csv", "line break.csv"),
        ("", "file"),
        ("...", "file"),
        ("/", "file"),
        ("\u200b\u2066", "file"),
        (".pdf", "pdf"),
        ("caf\u0065\u0301.txt", "caf\u00e9.txt"),
        ("\U0001f468\u200d\U0001f4bb notes.md", "\U0001f468\u200d\U0001f4bb notes.md"),
    ],
)
def test_display_name(raw: str, shown: str) -> None:
    assert display_name(raw) == shown


def test_a_long_display_name_keeps_its_extension() -> None:
    shown = display_name("a" * 500 + ".docx")
    assert len(shown) == 200 and shown.endswith("a.docx")
    assert len(display_name("b" * 500)) == 200
