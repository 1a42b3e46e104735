"""The text of accepted files keeps its structure (services/knowledge/extract.py): PDF pages, slides, sheets,
headings of Word, HTML and Markdown, CSV rows under their header; limits and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.files.sniff import detect
from services.knowledge.extract import NO_TEXT_LAYER, ExtractError, Section, Sections, extract
from tests.fakes import documents as docs


def _extract(tmp_path: Path, name: str, data: bytes, **limits: int) -> list[Section]:
    path = docs.write(tmp_path, name, data)
    return extract(path, detect(path, name).kind, **limits)


def _shape(sections: list[Section]) -> list[tuple[int | None, str | None]]:
    return [(s.page, s.heading) for s in sections]


def test_pdf_one_section_per_page_numbered_from_one(tmp_path: Path) -> None:
    pages = ["Introduction\nThe first page.", "", "Results (final)\nCaf\u00e9 prices rose 3%."]
    sections = _extract(tmp_path, "r.pdf", docs.make_pdf(pages))
    assert _shape(sections) == [(1, None), (3, None)]  # the blank page has no text
    assert sections[0].text == "Introduction\nThe first page."
    assert sections[1].text == "Results (final)\nCaf\u00e9 prices rose 3%."


def test_a_pdf_without_text_says_it_needs_ocr(tmp_path: Path) -> None:
    with pytest.raises(ExtractError) as err:
        _extract(tmp_path, "scan.pdf", docs.make_pdf(["", " "]))
    assert str(err.value) == NO_TEXT_LAYER and "scanned PDFs are not read yet" in str(err.value)


def test_a_pdf_with_an_owner_password_only_is_read(tmp_path: Path) -> None:
    sections = _extract(
        tmp_path, "o.pdf", docs.make_encrypted_pdf(["Locked for printing only"], user_password="")
    )
    assert sections[0].text == "Locked for printing only"


def test_docx_headings_start_sections_and_tables_read_as_rows(tmp_path: Path) -> None:
    data = docs.make_docx(
        [
            "Preface before any heading.",
            (1, "Overview"),
            "First paragraph.",
            "Second paragraph.",
            (2, "Prices"),
            [["Item", "Price"], ["Tea", "3"], ["Coffee", ""]],
            "After the table.",
            (1, "Empty section"),
            (1, "End"),
            "Last words.",
        ]
    )
    sections = _extract(tmp_path, "d.docx", data)
    assert _shape(sections) == [(None, None), (None, "Overview"), (None, "Prices"), (None, "End")]
    assert sections[0].text == "Preface before any heading."
    assert sections[1].text == "First paragraph.\n\nSecond paragraph."
    assert sections[2].text == "Item | Price\nTea | 3\nCoffee\n\nAfter the table."
    assert sections[3].text == "Last words."


def test_pptx_one_section_per_slide_headed_by_its_title(tmp_path: Path) -> None:
    data = docs.make_pptx([("Quarterly review", ["Revenue up", "Costs down"]), ("Next steps", ["Hire"])])
    sections = _extract(tmp_path, "s.pptx", data)
    assert _shape(sections) == [(1, "Quarterly review"), (2, "Next steps")]
    assert sections[0].text == "Revenue up\nCosts down"
    assert "Quarterly review" not in sections[0].text


def test_xlsx_one_section_per_sheet_rows_as_cells(tmp_path: Path) -> None:
    data = docs.make_xlsx(
        {
            "Budget": [["Item", "Cost", "Paid"], ["Rent", 1200.0, True], ["Food", 310.5, None]],
            "Empty": [],
            "Staff": [["Name"], ["Ann"], [None], ["Bo"]],
        }
    )
    sections = _extract(tmp_path, "b.xlsx", data)
    assert _shape(sections) == [(None, "Budget"), (None, "Staff")]
    assert sections[0].text == "Item | Cost | Paid\nRent | 1200 | True\nFood | 310.5"
    assert sections[1].text == "Name\nAnn\nBo"


def test_xlsx_rows_are_capped_with_a_note(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from services.knowledge import extract as module

    monkeypatch.setattr(module, "MAX_SHEET_ROWS", 5)
    sections = _extract(tmp_path, "big.xlsx", docs.make_xlsx({"Log": [[f"row {n}"] for n in range(20)]}))
    assert sections[0].text.splitlines() == [f"row {n}" for n in range(5)]
    assert isinstance(sections, Sections)
    assert sections.notes == ["Only the first 5 rows of sheet 'Log' were read."]


def test_html_drops_scripts_and_styles_and_splits_on_headings(tmp_path: Path) -> None:
    page = b"""<!doctype html><html><head><title>Handbook</title><style>p{color:red}</style>
    <script>var secret = "do not index";</script></head><body>
    <p>Welcome   to the <b>team</b>.</p><div>Second&nbsp;block &amp; more</div>
    <h1>Holidays</h1><p>25 days.</p><ul><li>Plus public holidays</li><li>Carry over 5</li></ul>
    <h2>Sick <i>leave</i></h2><table><tr><th>Days</th><th>Pay</th></tr><tr><td>1-10</td><td>full</td></tr></table>
    </body></html>"""
    sections = _extract(tmp_path, "h.html", page)
    assert _shape(sections) == [(None, "Handbook"), (None, "Holidays"), (None, "Sick leave")]
    assert sections[0].text == "Welcome to the team.\n\nSecond block & more"
    assert sections[1].text == "25 days.\n\n- Plus public holidays\n- Carry over 5"
    assert sections[2].text == "Days | Pay\n1-10 | full"
    assert all("secret" not in s.text and "color" not in s.text for s in sections)


def test_deeply_nested_html_is_read_without_recursion(tmp_path: Path) -> None:
    page = b"<div>" * 50_000 + b"deep text" + b"</div>" * 50_000
    assert [s.text for s in _extract(tmp_path, "deep.html", page)] == ["deep text"]


def test_markdown_headings_start_sections_outside_code_fences(tmp_path: Path) -> None:
    text = "\n".join(
        [
            "Intro line.",
            "",
            "# Setup",
            "Install it.",
            "```sh",
            "# not a heading",
            "make run",
            "```",
            "",
            "Usage ##",
            "-----",
            "Run `solo`.",
            "## Closing ##",
            "Bye.",
        ]
    )
    sections = _extract(tmp_path, "r.md", text.encode())
    assert _shape(sections) == [(None, None), (None, "Setup"), (None, "Usage ##"), (None, "Closing")]
    assert sections[1].text == "Install it.\n```sh\n# not a heading\nmake run\n```"
    assert sections[2].text == "Run `solo`."


def test_csv_rows_under_the_header_as_heading(tmp_path: Path) -> None:
    data = b'name;city;note\r\nAnn;Oslo;"likes ""tea"""\r\nBo;Rome;"two\r\nlines"\r\n'
    sections = _extract(tmp_path, "t.csv", data)
    assert _shape(sections) == [(None, "name | city | note")]
    assert sections[0].text == 'Ann | Oslo | likes "tea"\nBo | Rome | two lines'


def test_json_is_pretty_printed(tmp_path: Path) -> None:
    sections = _extract(tmp_path, "d.json", b'{"name":"Ann","tags":["a","\\u00e9"]}')
    assert sections[0].text == json.dumps(
        {"name": "Ann", "tags": ["a", "\u00e9"]}, indent=2, ensure_ascii=False
    )


def test_txt_as_is_with_clean_line_ends(tmp_path: Path) -> None:
    data = b"First paragraph\r\nstill first.\r\n\r\n\r\n\r\nSecond\x07 one.\n"
    sections = _extract(tmp_path, "n.txt", data)
    assert [s.text for s in sections] == ["First paragraph\nstill first.\n\nSecond one."]
    utf16 = _extract(tmp_path, "u.txt", "\u00e9t\u00e9\nhiver".encode("utf-16"))
    assert utf16[0].text == "\u00e9t\u00e9\nhiver"


def test_images_have_no_text(tmp_path: Path) -> None:
    assert _extract(tmp_path, "p.png", docs.make_png(8, 8)) == []


def test_text_stops_at_max_chars_and_says_so(tmp_path: Path) -> None:
    pages = [f"Page {n} " + "word " * 50 for n in range(10)]
    sections = _extract(tmp_path, "long.pdf", docs.make_pdf(pages), max_chars=600)
    assert sum(len(s.text) for s in sections) == 600
    assert [s.page for s in sections] == [1, 2, 3]
    assert isinstance(sections, Sections) and sections.truncated
    assert sections.notes == ["Only the first 600 characters were read; the rest of the file was not."]
    whole = _extract(tmp_path, "long.pdf", docs.make_pdf(pages))
    assert isinstance(whole, Sections) and not whole.truncated and len(whole) == 10


def test_a_damaged_file_gives_a_reason(tmp_path: Path) -> None:
    path = docs.write(tmp_path, "d.docx", docs.make_docx(["x"])[:300])
    with pytest.raises(ExtractError) as err:
        extract(path, "docx")
    assert str(err.value).startswith("The Word document could not be read")
    empty = docs.write(tmp_path, "e.txt", b"\n\n   \n")
    with pytest.raises(ExtractError, match="no text to read"):
        extract(empty, "txt")
