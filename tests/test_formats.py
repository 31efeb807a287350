"""PDF and DOCX ingestion, and one article in five formats giving one main text.

The fixtures in tests/data/formats are written by make_fixtures.py there: an Arabic and a
Persian article as HTML, PDF (shaped glyphs in visual order over two pages, as many real
Arabic-script PDFs are), DOCX (right-to-left paragraphs), windows-1256 text and UTF-16 text.
"""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import DATA
from pypdf import PdfReader, PdfWriter

from rag import docx_text, pdf_text
from rag.config import Settings
from rag.engine import Engine
from rag.errors import IngestError
from rag.indexing import index_paths
from rag.ingest import iter_sources
from rag.types import SourceDoc

FORMATS = DATA / "formats"
sys.path.insert(0, str(FORMATS))
from make_fixtures import legacy_1256  # noqa: E402

KINDS = ["html", "pdf", "docx", "cp1256.txt", "utf16.txt"]


def _one(path: Path) -> SourceDoc:
    (item,) = list(iter_sources([path]))
    assert isinstance(item, SourceDoc), item
    return item


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("lang", ["ar", "fa"])
@pytest.mark.parametrize("kind", KINDS)
def test_five_formats_give_the_same_main_text(lang: str, kind: str) -> None:
    expected = (FORMATS / f"expected_{lang}.txt").read_text("utf-8")
    if kind == "cp1256.txt":
        expected = legacy_1256(expected)  # what windows-1256 can hold: Arabic yeh, ASCII digits
    doc = _one(FORMATS / f"article_{lang}.{kind}")
    assert _flat(doc.text) == _flat(expected)
    assert doc.lang == lang
    # The headline is the title in every format, and paragraphs stay paragraphs.
    assert _flat(doc.title).replace("ي", "ی") == _flat(expected.splitlines()[0]).replace("ي", "ی")
    assert len(doc.text.strip().splitlines()) == len(expected.strip().splitlines())


@pytest.mark.parametrize("lang", ["ar", "fa"])
def test_pdf_drops_page_numbers_and_keeps_digits_in_order(lang: str) -> None:
    doc = _one(FORMATS / f"article_{lang}.pdf")
    assert doc.meta["format"] == "pdf" and doc.meta["pages"] >= 2
    lines = doc.text.splitlines()
    assert not any(line.strip() in {"1", "2", "3"} for line in lines)
    year = "2018" if lang == "ar" else "۱۳۹۸"
    assert year in doc.text and year[::-1] not in doc.text


LINES = [
    # (visual order as a PDF draws it, logical order)
    ("ﺪﺷ ﺭﺍﺮﻗﺮﺑ ۲۰۲۰ ﺯﺍ ﺲﺑ ﺶﺗﺁ", "آتش بس از ۲۰۲۰ برقرار شد"),  # fa, presentation forms
    (".ﺐﻟﺩﺇ ﻲﻓ 2020 ﺱﺭﺎﻣ 5 ﻲﻓ", "في 5 مارس 2020 في إدلب."),  # ar, digits stay in order
    ("ﺭﺎﻨﻟﺍ ﻕﻼﻃﺇ ﻒﻗﻭ", "وقف إطلاق النار"),  # lam-alef ligature resolved after reversal
    ("(ﺎﻨﺳﺭ) ﺔﻟﺎﻛﻭ", "وكالة (رسنا)"),  # mirrored brackets swapped back
    ("نارهت رد ناریا تلود", "دولت ایران در تهران"),  # plain letters: function words decide
    ("ةلودلا يف نم", "من في الدولة"),
    ("The talks in ﻲﺸﺗﻮﺳ ended", "The talks in سوتشي ended"),  # a name in an English line
    ("دولت ایران در تهران", "دولت ایران در تهران"),  # already logical: unchanged
    ("في 5 مارس 2020 في إدلب.", "في 5 مارس 2020 في إدلب."),
    ("Putin and Erdogan met on 5 March 2020.", "Putin and Erdogan met on 5 March 2020."),
]


@pytest.mark.parametrize(("line", "expected"), LINES)
def test_logical_line(line: str, expected: str) -> None:
    assert pdf_text.logical_line(line) == expected


def _pdf_bytes(lang: str = "ar") -> bytes:
    return (FORMATS / f"article_{lang}.pdf").read_bytes()


def _encrypted(user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(_pdf_bytes())))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _blank_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_permissions_only_encryption_is_read() -> None:
    assert "سوتشي" in pdf_text.extract(_encrypted(""), "p.pdf").text


BAD_PDFS = [
    ("truncated", lambda: _pdf_bytes()[: len(_pdf_bytes()) // 2], "not a readable PDF"),
    ("password", lambda: _encrypted("secret"), "needs a password"),
    ("no text layer", _blank_pdf, "no text layer"),
    ("not a pdf", lambda: "نص عربي عادي".encode(), "not a PDF"),
    ("empty", lambda: b"", "not a PDF"),
]


@pytest.mark.parametrize(("name", "make", "reason"), BAD_PDFS, ids=[b[0] for b in BAD_PDFS])
def test_bad_pdf_is_reported(name: str, make: object, reason: str) -> None:
    with pytest.raises(IngestError) as err:
        pdf_text.extract(make(), "/x/bad.pdf")  # type: ignore[operator]
    assert reason in str(err.value) and "/x/bad.pdf" in str(err.value)


def _zip(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


BAD_DOCX = [
    ("not a zip", lambda: "سلام دنیا".encode(), "not a zip archive"),
    ("zip without document", lambda: _zip({"a.txt": b"hello"}), "not a Word document"),
    (
        "zip bomb",
        lambda: _zip({"word/document.xml": b"\0" * (30 * 1024 * 1024)}),
        "zip bomb",
    ),
    (
        "damaged xml",
        lambda: _zip({"[Content_Types].xml": b"<Types", "word/document.xml": b"<w:document"}),
        "Word document",
    ),
]


@pytest.mark.parametrize(("name", "make", "reason"), BAD_DOCX, ids=[b[0] for b in BAD_DOCX])
def test_bad_docx_is_reported(name: str, make: object, reason: str) -> None:
    with pytest.raises(IngestError) as err:
        docx_text.extract(make(), "/x/bad.docx")  # type: ignore[operator]
    assert reason in str(err.value) and "/x/bad.docx" in str(err.value)


def test_docx_tables_are_read_in_order(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_paragraph("قبل الجدول")
    table = document.add_table(rows=2, cols=2)
    for r, row in enumerate([("المدينة", "السكان"), ("إدلب", "۳ میلیون")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_paragraph("بعد الجدول")
    path = tmp_path / "t.docx"
    document.save(str(path))
    text = docx_text.extract(path.read_bytes(), str(path)).text
    assert text.splitlines() == ["قبل الجدول", "المدينة | السكان", "إدلب | ۳ میلیون", "بعد الجدول"]


def test_a_batch_with_bad_files_indexes_the_rest(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for kind in KINDS:
        (folder / f"article_ar.{kind}").write_bytes((FORMATS / f"article_ar.{kind}").read_bytes())
    (folder / "broken.pdf").write_bytes(_pdf_bytes()[:500])
    (folder / "locked.pdf").write_bytes(_encrypted("secret"))
    (folder / "fake.docx").write_bytes(b"plain text, not a zip")
    settings = Settings().with_index(tmp_path / "index")
    report = index_paths([folder], settings)
    assert sorted(Path(e.path).name for e in report.failed) == [
        "broken.pdf",
        "fake.docx",
        "locked.pdf",
    ]
    assert report.total_documents == 5
    with Engine(settings) as engine:
        answer = engine.ask("اتفاق سوتشي الموقع في العام 2018")
        cited = {c.doc_id for c in answer.citations}
        hits = engine.search("اتفاق سوتشي الموقع في العام 2018", k=10)
    assert {h.doc.doc_id for h in hits} == {f"article_ar.{kind}" for kind in KINDS}
    assert cited and all("سوتشي" in c.quote for c in answer.citations)


def test_progress_summary_and_skipped_types(tmp_path: Path, runner) -> None:  # type: ignore[no-untyped-def]
    from rag.cli import main
    from rag.indexing import Progress

    folder = tmp_path / "in"
    folder.mkdir()
    for lang in ("ar", "fa"):
        for kind in ("pdf", "docx"):
            name = f"article_{lang}.{kind}"
            (folder / name).write_bytes((FORMATS / name).read_bytes())
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    events: list[Progress] = []
    settings = Settings().with_index(tmp_path / "index")
    report = index_paths([folder], settings, progress=events.append)
    assert report.ok and [s.suffix for s in report.skipped] == [".jpg"]
    assert report.languages == {"ar": 2, "fa": 2}
    stages = [e.stage for e in events]
    assert stages == sorted(stages, key=["read", "index", "finish"].index)
    reads = [e for e in events if e.stage == "read"]
    assert [e.done for e in reads] == [1, 2, 3, 4] and all(e.total == 4 for e in reads)
    assert [e.done for e in events if e.stage == "index"] == [1, 2, 3, 4]
    assert events[-1] == Progress("finish", 1, 1)
    # The CLI summary: counts, languages, time; a skipped type is not a failure.
    (folder / "article_ar.utf16.txt").write_bytes((FORMATS / "article_ar.utf16.txt").read_bytes())
    result = runner.invoke(main, ["ingest", str(folder), "--index", str(settings.index_dir)])
    assert result.exit_code == 0, result.output
    assert "1 new, 0 changed, 4 unchanged" in result.stdout
    assert "languages of written documents: ar 1" in result.stdout
    assert "1 file(s) of types Manba does not read skipped (.jpg 1)" in result.stdout
    assert "now holds 5 document(s)" in result.stdout
