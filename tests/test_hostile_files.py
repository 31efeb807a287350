"""Hostile input files, generated here, ingested in one batch beside good Persian, Arabic and
English files into an index that already holds documents.

Every bad file gets exactly one message naming the file, the reason and (where there is
something to do) what to do; the good files are indexed under their own names (spaces,
Persian letters, emoji); documents indexed before keep the same chunk ids and texts; nothing
outside the corpus folder is read or written. The same for a few files through the app's
uploads. Also: a document of many chunks is stored whole with exact offsets, and editing one
paragraph leaves no stale chunk in SQLite, Chroma or search results.

``CASES`` is the table of hostile inputs and their expected outcomes; ``build_corpus`` writes
them. ``benchmarks/hostile.py`` uses both, with a 200 MB text file added.
"""

from __future__ import annotations

import codecs
import io
import json
import os
import random
import struct
import sys
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from conftest import DATA

from rag.chunking import chunk_spans
from rag.config import ChunkSettings, IngestSettings, Settings
from rag.engine import Engine
from rag.indexing import IngestReport, index_paths
from rag.store import IndexReader

pytestmark = pytest.mark.filterwarnings(
    "ignore:legacy embedding function config:DeprecationWarning"
)

FORMATS = DATA / "formats"

FA = (
    "پوتین و اردوغان در سوچی درباره ادلب گفت‌وگو کردند.\n"
    "دو رئیس جمهور بر کاهش تنش در شمال سوریه تاکید کردند و گفتند که گفت‌وگوها ادامه دارد.\n"
    "خبرگزاری ایرنا گزارش داد که وزیران خارجه دو کشور هفته آینده در تهران دیدار می‌کنند.\n"
)
AR = (
    "قال الكرملين إن بوتين وأردوغان بحثا الوضع في إدلب هاتفيا.\n"
    "واتفق الطرفان على خفض التوتر ومواصلة الاتصالات بين وزارتي الدفاع في البلدين.\n"
    "وأضاف البيان أن وزيري الخارجية سيلتقيان في أنقرة الأسبوع المقبل لبحث الملف السوري.\n"
)
EN = (
    "Putin and Erdogan discussed Idlib by telephone, the Kremlin said.\n"
    "Both leaders agreed to reduce tensions and to keep their defence ministries in contact.\n"
    "Their foreign ministers will meet in Ankara next week to discuss Syria.\n"
)
# What windows-1256 can hold of Persian: Arabic yeh and kaf, no ZWNJ.
FA_1256 = FA.replace("ی", "ي").replace("ک", "ك").replace("\u200c", " ")
LATIN1 = "Le président turc a déclaré à la presse que les négociations continueront.\n"

GOOD_NAMES = ("گزارش خبری ۱۴۰۳.txt", "تقرير 🚀 عاجل.md", "news report 📰.txt")


# --- builders of hostile bytes -----------------------------------------------------------------


def _pdf_fixture(lang: str) -> bytes:
    return (FORMATS / f"article_{lang}.pdf").read_bytes()


def truncated_pdf() -> bytes:
    data = _pdf_fixture("ar")
    return data[: len(data) // 2]


def encrypted_pdf() -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(_pdf_fixture("fa"))))
    writer.encrypt(user_password="رمز-secret", owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def scanned_pdf() -> bytes:
    """A page of drawings only, as a scan without OCR has no text layer."""
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out)
    for i in range(40):
        pdf.rect(50 + i * 5, 700 - i * 12, 400, 8, fill=1)
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def pdf_bomb(inflated: int = 80_000_000) -> bytes:
    """A page whose content stream inflates past pypdf's 75 MB limit from about 80 KB."""
    from pypdf import PdfWriter
    from pypdf.generic import NameObject, StreamObject

    writer = PdfWriter()
    page = writer.add_blank_page(width=595, height=842)
    stream = StreamObject()
    stream._data = zlib.compress(b"q Q " * (inflated // 4), 9)
    stream[NameObject("/Filter")] = NameObject("/FlateDecode")
    page[NameObject("/Contents")] = writer._add_object(stream)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _docx_with(extra: str, size: int, forge: int | None = None) -> bytes:
    """The Persian .docx fixture plus a member ``extra`` that inflates to ``size`` bytes
    (written in 1 MB steps); ``forge``: declare that size instead in both zip headers."""
    source = zipfile.ZipFile(FORMATS / "article_fa.docx")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            if info.filename != extra:
                archive.writestr(info, source.read(info))
        member = zipfile.ZipInfo(extra)
        member.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(member, "w") as f:
            step = b" " * (1 << 20)
            for _ in range(size // len(step)):
                f.write(step)
    data = bytearray(out.getvalue())
    if forge is not None:
        info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo(extra)
        struct.pack_into("<I", data, info.header_offset + 22, forge)  # local header
        pos = 0
        while (pos := data.find(b"PK\x01\x02", pos)) >= 0:  # central directory entries
            n = struct.unpack_from("<H", data, pos + 28)[0]
            if data[pos + 46 : pos + 46 + n] == extra.encode():
                struct.pack_into("<I", data, pos + 24, forge)
            pos += 4
    return bytes(data)


def zip_bomb_docx() -> bytes:
    """A real Word document padded with 40 MB of spaces that pack into 40 KB."""
    return _docx_with("word/media/padding.bin", 40 << 20)


def forged_zip_docx() -> bytes:
    """document.xml declared as 1,000 bytes but inflating to 40 MB: the directory lies."""
    return _docx_with("word/document.xml", 40 << 20, forge=1000)


def zip_not_word() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("notes.txt", FA)
    return out.getvalue()


def binary_with_nul() -> bytes:
    return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + random.Random(1).randbytes(2000)


def binary_high_bytes() -> bytes:
    """Random bytes 0x80-0xFF: no NUL, no control character, valid windows-1256, nonsense."""
    rng = random.Random(2)
    return bytes(rng.randrange(0x80, 0x100) for _ in range(600))


def mixed_encodings() -> bytes:
    return FA.encode("utf-8") + AR.encode("cp1256") + EN.encode("ascii")


def nul_early() -> bytes:
    return AR.encode("utf-8").replace(b" ", b"\x00", 3)


def nul_late() -> bytes:
    """A NUL past the first 8 KB, where a look at the head alone would miss it."""
    return (FA * 60).encode("utf-8") + b"\x00" + AR.encode("utf-8")


def long_line_fa() -> bytes:
    """One line of 10,000+ characters of Persian words with no sentence end."""
    words = "گزارش خبرگزاری ایرنا درباره نشست وزیران خارجه روسیه و ترکیه در تهران".split()
    line = " ".join(words[i % len(words)] for i in range(1800))
    assert len(line) > 10_000
    return (line + "\n" + FA).encode("utf-8")


def long_line_no_space_ar() -> bytes:
    """12,000 Arabic letters with no space at all."""
    return ("بوتينأردوغانإدلب" * 750 + "\n" + AR).encode("utf-8")


def big_text(megabytes: float) -> Callable[[], bytes]:
    def make() -> bytes:
        unit = (FA + AR + EN).encode("utf-8")
        return unit * (int(megabytes * 1024 * 1024) // len(unit) + 1)

    return make


def jsonl_with_broken_lines() -> bytes:
    rows = [
        json.dumps({"id": "fa-1", "title": "ادلب", "text": FA, "lang": "fa"}, ensure_ascii=False),
        '{"id": "broken-1", "text": "پوتین',  # cut off mid-row
        json.dumps({"id": "ar-1", "text": AR}, ensure_ascii=False),
        "[1, 2, 3]",  # JSON, but not an object
        json.dumps({"id": "no-text", "title": "بدون متن"}, ensure_ascii=False),
        "",
        json.dumps({"id": "../../escape", "text": EN}),  # an id is a name, never a path
        "not json at all",
    ]
    return "\n".join(rows).encode("utf-8")


# --- the table ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One hostile input: its file name, bytes, and the expected outcome.

    ``outcome``: "refused" (one message for the file), "indexed" (the documents in ``docs``),
    "partial" (JSONL: the rows in ``docs`` indexed, one message per line in ``lines``).
    ``reason`` and ``advice`` are parts of the message: why, and what to do.
    """

    name: str
    what: str
    make: Callable[[], bytes] | None
    outcome: str
    reason: str = ""
    advice: str = ""
    docs: tuple[str, ...] = ()
    lines: tuple[int, ...] = ()
    kind: str = "file"  # "file", "fifo", "link-out"


NO_WORDS = "… ؟ ، \u200cـ\u200f\n"
SCRIPTS_ONLY = "<html><script>alert(1)</script><nav><a href=x>menu</a></nav></html>"


def _ok(name: str, what: str, make: Callable[[], bytes]) -> Case:
    return Case(name, what, make, "indexed", docs=(name,))


def _bad(
    name: str,
    what: str,
    make: Callable[[], bytes] | None,
    reason: str,
    advice: str = "",
    kind: str = "file",
) -> Case:
    return Case(name, what, make, "refused", reason, advice, kind=kind)


CASES: list[Case] = [
    _bad("empty.txt", "empty (whitespace only)", lambda: b" \n\t\n", "empty"),
    _bad("zero-byte.md", "zero bytes", lambda: b"", "empty"),
    _bad("bom-only.txt", "a UTF-8 BOM and nothing else", lambda: codecs.BOM_UTF8, "no text"),
    _bad("no-words.txt", "punctuation, ZWNJ and tatweel only", NO_WORDS.encode, "no words"),
    _bad("binary.txt", "binary (PNG header, NULs) named .txt", binary_with_nul, "binary", "UTF-8"),
    _bad("binary-high.md", "random bytes 0x80-0xFF, .md", binary_high_bytes, "doubtful", "UTF-8"),
    _bad(
        "latin1.txt",
        "French in Latin-1",
        lambda: LATIN1.encode("latin-1"),
        "doubtful",
        "save the file as UTF-8",
    ),
    _bad("truncated.pdf", "a PDF cut in half", truncated_pdf, "not a readable PDF", "complete"),
    _bad(
        "encrypted.pdf",
        "a PDF with a user password",
        encrypted_pdf,
        "needs a password",
        "unprotected copy",
    ),
    _bad(
        "scanned.pdf",
        "a PDF with no text layer (drawings only)",
        scanned_pdf,
        "no text layer",
        "OCR",
    ),
    _bad("bomb.pdf", "a PDF stream inflating past 75 MB", pdf_bomb, "decompression bomb"),
    _bad("html.pdf", "an HTML page named .pdf", lambda: b"<html>x</html>", "not a PDF"),
    _bad(
        "not-a-zip.docx", "Persian text named .docx", FA.encode, "not a zip archive", "Word .docx"
    ),
    _bad(
        "zip-not-word.docx", "a zip without word/document.xml", zip_not_word, "not a Word document"
    ),
    _bad(
        "bomb.docx", "zip bomb: a Word file with 40 MB packed in 40 KB", zip_bomb_docx, "zip bomb"
    ),
    _bad("forged.docx", "zip declaring 1 KB for 40 MB", forged_zip_docx, "forged archive"),
    _ok("utf16le-fa.txt", "Persian UTF-16 LE without BOM", lambda: FA.encode("utf-16-le")),
    _ok("utf16be-ar.txt", "Arabic UTF-16 BE without BOM", lambda: AR.encode("utf-16-be")),
    _ok("cp1256-ar.txt", "Arabic windows-1256", lambda: AR.encode("cp1256")),
    _ok("cp1256-fa.txt", "Persian windows-1256 (Arabic yeh)", lambda: FA_1256.encode("cp1256")),
    _ok("iso8859-6-ar.txt", "Arabic ISO-8859-6", lambda: AR.encode("iso8859_6")),
    _bad(
        "mixed.txt",
        "UTF-8 Persian, then windows-1256 Arabic",
        mixed_encodings,
        "mixed encodings",
        "one encoding",
    ),
    _bad("nul.txt", "UTF-8 Arabic with NUL bytes for spaces", nul_early, "NUL", "UTF-8"),
    _bad("nul-late.txt", "a NUL byte after 30 KB of Persian", nul_late, "NUL"),
    _ok("long-line-fa.txt", "a 10,000-character Persian line", long_line_fa),
    _ok("long-line-ar.txt", "12,000 Arabic letters without a space", long_line_no_space_ar),
    _bad(
        "big.txt",
        "2 MB of text over a 1 MB limit",
        big_text(2),
        "2.0 MB is over the 1 MB limit for one file (MANBA_INGEST__MAX_MB)",
        "raise it to index this file",
    ),
    Case(
        "broken.jsonl",
        "JSONL with broken lines",
        jsonl_with_broken_lines,
        "partial",
        docs=("broken.jsonl#fa-1", "broken.jsonl#ar-1", "broken.jsonl#../../escape"),
        lines=(2, 4, 5, 8),
    ),
    _bad("scripts.html", "a page of scripts and menus only", SCRIPTS_ONLY.encode, "no main text"),
    _bad(
        "pipe.txt",
        "a named pipe (reading it would wait forever)",
        None,
        "not a regular file",
        kind="fifo",
    ),
    _bad(
        "link-out.txt",
        "a link to a file outside the corpus folder",
        None,
        "outside the folder",
        kind="link-out",
    ),
]
# Good files beside them: names with spaces, Persian and Arabic letters and emoji; the fa/ar
# PDFs made with a real Arabic-script font (DejaVu Sans, shaped glyphs in visual order), with
# dates and digits; a .docx.
GOOD: list[Case] = [
    _ok(GOOD_NAMES[0], "Persian, name with spaces and Persian digits", FA.encode),
    _ok(GOOD_NAMES[1], "Arabic, name with an emoji", AR.encode),
    _ok(GOOD_NAMES[2], "English, name with an emoji", EN.encode),
    _ok("article_fa.pdf", "Persian PDF, two pages, dates", lambda: _pdf_fixture("fa")),
    _ok("article_ar.pdf", "Arabic PDF, two pages, digits", lambda: _pdf_fixture("ar")),
    _ok(
        "article_ar.docx",
        "Arabic Word document",
        lambda: (FORMATS / "article_ar.docx").read_bytes(),
    ),
]


def build_corpus(folder: Path, outside: Path, cases: list[Case]) -> None:
    """Write every case into ``folder``; ``outside`` holds the target of the outward link."""
    folder.mkdir(parents=True, exist_ok=True)
    outside.mkdir(parents=True, exist_ok=True)
    for case in cases:
        path = folder / case.name
        if case.kind == "fifo":
            os.mkfifo(path)
        elif case.kind == "link-out":
            secret = outside / "secret.txt"
            secret.write_text("SECRET-OUTSIDE " + FA, encoding="utf-8")
            path.symlink_to(secret)
        else:
            assert case.make is not None
            path.write_bytes(case.make())


def outcomes(report: IngestReport, folder: Path, cases: list[Case]) -> dict[str, str]:
    """The outcome of each case as a short line: 'indexed N', 'refused: reason' or both."""
    written = set(report.added) | set(report.updated) | set(report.unchanged)
    out = {}
    for case in cases:
        mine = [e for e in report.failed if Path(e.path) == folder / case.name]
        docs = sorted(d for d in written if d == case.name or d.startswith(case.name + "#"))
        parts = []
        if docs:
            parts.append(f"indexed {len(docs)} document(s)")
        for err in mine:
            where = f"line {err.line}: " if err.line is not None else ""
            parts.append(f"refused {where}{err.reason}")
        out[case.name] = "; ".join(parts) or "NOTHING REPORTED"
    return out


# --- the batch ------------------------------------------------------------------------------


def _snapshot(settings: Settings, doc_ids: set[str]) -> dict[str, tuple[str, int, int, str]]:
    """chunk_id -> (doc_id, start, end, text) of the given documents."""
    reader = IndexReader(settings)
    try:
        return {
            cid: (chunk.doc_id, chunk.start, chunk.end, chunk.text)
            for i, cid in enumerate(reader.chunk_ids)
            if (chunk := reader.chunk(i)).doc_id in doc_ids
        }
    finally:
        reader.close()


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[IngestReport, Path, Settings, dict]:
    """An index holding three documents, then one batch of every hostile and good file."""
    root = tmp_path_factory.mktemp("hostile")
    settings = Settings(ingest=IngestSettings(max_mb=1)).with_index(root / "index")
    before = root / "before"
    before.mkdir()
    for name, text in (("fa_before.txt", FA), ("ar_before.txt", AR), ("en_before.txt", EN)):
        (before / name).write_text("خبر پیشین / خبر سابق / earlier\n" + text, encoding="utf-8")
    first = index_paths([before], settings)
    assert first.ok and len(first.added) == 3
    snapshot = _snapshot(settings, set(first.added))
    corpus = root / "corpus"
    build_corpus(corpus, root / "outside", CASES + GOOD)
    listing = sorted(p.name for p in root.iterdir())
    report = index_paths([corpus], settings)
    assert sorted(p.name for p in root.iterdir()) == listing  # nothing new beside the corpus
    return report, corpus, settings, snapshot


@pytest.mark.parametrize("case", CASES + GOOD, ids=[c.name for c in CASES + GOOD])
def test_each_input_gets_its_outcome(batch: tuple, case: Case) -> None:
    report, corpus, _, _ = batch
    path = corpus / case.name
    mine = [e for e in report.failed if Path(e.path) == path]
    written = report.added + report.updated
    if case.outcome == "refused":
        assert len(mine) == 1, [str(e) for e in mine]
        err = mine[0]
        message = str(err)
        assert message.startswith(f"{path}: ")  # names the file
        assert case.reason in err.reason, message
        assert case.advice in err.reason, message
        assert not any(d == case.name or d.startswith(case.name + "#") for d in written)
    elif case.outcome == "indexed":
        assert not mine, [str(e) for e in mine]
        assert list(case.docs) == [d for d in written if d == case.name]
    else:  # partial: good rows in, one message per broken line
        assert sorted(e.line for e in mine if e.line is not None) == list(case.lines)
        assert all(e.line is not None for e in mine)
        assert Counter(e.line for e in mine).most_common(1)[0][1] == 1
        assert sorted(d for d in written if d.startswith(case.name + "#")) == sorted(case.docs)


def test_nothing_unexpected_is_reported(batch: tuple) -> None:
    report, corpus, _, _ = batch
    names = {c.name for c in CASES + GOOD}
    assert all(Path(e.path).parent == corpus and Path(e.path).name in names for e in report.failed)
    refused = [c for c in CASES if c.outcome == "refused"]
    lines = sum(len(c.lines) for c in CASES)
    assert len(report.failed) == len(refused) + lines
    assert not report.skipped and not report.unchanged and not report.updated
    for err in report.failed:
        assert "Traceback" not in err.reason and "internal error" not in err.reason


def test_documents_indexed_before_are_unchanged(batch: tuple) -> None:
    _, _, settings, snapshot = batch
    doc_ids = {doc_id for doc_id, *_ in snapshot.values()}
    assert _snapshot(settings, doc_ids) == snapshot


def test_good_files_are_indexed_under_their_names_and_found(batch: tuple) -> None:
    _, corpus, settings, _ = batch
    with Engine(settings) as engine:
        for name in GOOD_NAMES:
            info, text = engine.reader.doc(name)
            assert Path(info.path) == corpus / name and text
        for question, doc_id in (
            ("وزیران خارجه در تهران دیدار می‌کنند", GOOD_NAMES[0]),
            ("وزيري الخارجية سيلتقيان في أنقرة", GOOD_NAMES[1]),
            ("foreign ministers meet in Ankara next week", GOOD_NAMES[2]),
        ):
            hits = engine.search(question, k=20)
            assert doc_id in {h.doc.doc_id for h in hits}
        # The windows-1256 Persian file decoded to what its bytes encode (Arabic yeh/kaf),
        # and a question typed with Persian letters finds it.
        _, legacy = engine.reader.doc("cp1256-fa.txt")
        assert legacy == FA_1256 and "ي" in legacy and "ی" not in legacy
        hits = engine.search("وزیران خارجه هفته آینده در تهران", k=20)
        assert "cp1256-fa.txt" in {h.doc.doc_id for h in hits}
        for name, text in (
            ("utf16le-fa.txt", FA),
            ("utf16be-ar.txt", AR),
            ("iso8859-6-ar.txt", AR),
            ("cp1256-ar.txt", AR),
        ):
            assert engine.reader.doc(name)[1] == text
        # Nothing from outside the corpus folder: the linked secret is not in the index.
        assert not [h for h in engine.search("SECRET-OUTSIDE", k=50) if "SECRET" in h.chunk.text]
        # A JSONL id with ../ is a name only.
        assert engine.reader.doc("broken.jsonl#../../escape")[1] == EN


def test_pdfs_with_arabic_script_fonts_read_in_logical_order(batch: tuple) -> None:
    _, _, settings, _ = batch
    reader = IndexReader(settings)
    try:
        _, fa = reader.doc("article_fa.pdf")
        _, ar = reader.doc("article_ar.pdf")
    finally:
        reader.close()
    expected_fa = (FORMATS / "expected_fa.txt").read_text("utf-8")
    expected_ar = (FORMATS / "expected_ar.txt").read_text("utf-8")
    assert " ".join(fa.split()) == " ".join(expected_fa.split())
    assert " ".join(ar.split()) == " ".join(expected_ar.split())
    assert "از ۷ آذر ۱۳۹۸ تا امروز." in fa and "۸۹۳۱" not in fa  # date and digits in order
    assert "في العام 2018 الذي" in ar and "8102" not in ar


def test_long_lines_are_chunked_with_exact_offsets(batch: tuple) -> None:
    settings = batch[2]
    reader = IndexReader(settings)
    try:
        for name in ("long-line-fa.txt", "long-line-ar.txt"):
            _, text = reader.doc(name)
            spans = [
                (reader.chunk(i).start, reader.chunk(i).end)
                for i, d in enumerate(reader.doc_ids)
                if d == name
            ]
            chunk = settings.chunk
            want = chunk_spans(text, chunk.max_tokens, chunk.overlap_tokens, chunk.encoding)
            assert sorted(spans) == [(c.start, c.end) for c in want] and len(spans) >= 5
            covered = {i for s, e in spans for i in range(s, e)}
            assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())
    finally:
        reader.close()


# --- the same through the app's uploads ----------------------------------------------------


def test_uploads_refuse_hostile_files_and_keep_names_inside(tmp_path: Path) -> None:
    from ui.library import index_uploads, uploads_dir

    settings = replace(
        Settings().with_index(tmp_path / "index"),
        ingest=IngestSettings(max_mb=1),
    )
    files = [
        ("../../escape-fa.txt", FA.encode()),
        ("..\\..\\escape-ar.md", AR.encode("cp1256")),
        ("/etc/absolute-en.txt", EN.encode()),
        (GOOD_NAMES[1], AR.encode("utf-16")),
        ("bomb.docx", zip_bomb_docx()),
        ("mixed.txt", mixed_encodings()),
        ("nul.txt", nul_early()),
        ("big.txt", big_text(2)()),
        ("empty.txt", b""),
    ]
    results = index_uploads(files, settings)
    by_name = {r.name: r for r in results}
    assert [r.status for r in results[:4]] == ["added"] * 4
    assert [r.stored_as for r in results[:4]] == [
        "escape-fa.txt",
        "escape-ar.md",
        "absolute-en.txt",
        GOOD_NAMES[1],
    ]
    for name, reason in (
        ("bomb.docx", "zip bomb"),
        ("mixed.txt", "mixed encodings"),
        ("nul.txt", "NUL"),
        ("big.txt", "MANBA_INGEST__MAX_MB"),
        ("empty.txt", "empty"),
    ):
        result = by_name[name]
        assert result.status == "failed" and len(result.problems) == 1, result
        assert reason in result.problems[0], result
    folder = uploads_dir(settings)
    stored = sorted(p.name for p in folder.iterdir() if p.is_file())
    assert stored == sorted(r.stored_as for r in results[:4])  # refused files are not kept
    # Nothing was written anywhere but the index folder.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index"]
    assert not list(tmp_path.parent.glob("escape-*")) and not Path("/etc/absolute-en.txt").exists()
    with Engine(settings) as engine:
        assert {d.doc_id for d in engine.reader.documents()} == set(stored)


# --- many chunks; an edited paragraph ------------------------------------------------------

# MANBA_TEST_CHUNKS=6000 runs the full size (past Chroma's 5,461-record batch limit).
N_CHUNKS = int(os.environ.get("MANBA_TEST_CHUNKS", "6000"))
SENTENCES = {
    "fa": "در روز {n} نشست شماره {n} وزیران در تهران برگزار شد و درباره ادلب گفت‌وگو کردند.",
    "ar": "في اليوم {n} عقد الاجتماع رقم {n} للوزراء في أنقرة وبحثوا الوضع في إدلب.",
}


def test_a_document_of_thousands_of_chunks_is_stored_whole(tmp_path: Path) -> None:
    from test_ingest import chroma_state

    # Small chunks: one sentence each (about 25 tokens), so the chunk count is the point.
    chunking = ChunkSettings(max_tokens=30, overlap_tokens=0)
    settings = Settings(chunk=chunking).with_index(tmp_path / "index")
    lines = [SENTENCES["fa" if n % 2 else "ar"].format(n=n) for n in range(N_CHUNKS)]
    text = "\n".join(lines) + "\n"
    path = tmp_path / "many.txt"
    path.write_text(text, encoding="utf-8")
    report = index_paths([path], settings)
    want = chunk_spans(text, chunking.max_tokens, chunking.overlap_tokens, chunking.encoding)
    assert report.ok and report.chunks == len(want) == N_CHUNKS
    reader = IndexReader(settings)
    try:
        assert reader.doc("many.txt")[1] == text
        got = sorted(
            zip(reader.ords.tolist(), reader.starts.tolist(), reader.ends.tolist(), strict=True)
        )
        ids = sorted(reader.chunk_ids)
    finally:
        reader.close()
    assert got == [(c.ord, c.start, c.end) for c in want]  # every chunk, offsets exact
    assert [text[s:e] for _, s, e in got] == lines  # one sentence each, none lost
    assert sorted(chroma_state(settings)) == ids  # every vector in Chroma too


def test_editing_one_paragraph_leaves_no_stale_chunk(tmp_path: Path) -> None:
    from test_ingest import assert_store_consistent, chroma_state

    settings = Settings(chunk=ChunkSettings(max_tokens=60, overlap_tokens=10)).with_index(
        tmp_path / "index"
    )
    folder = tmp_path / "corpus"
    folder.mkdir()
    paragraphs = [SENTENCES["fa"].format(n=n) + " " + FA.replace("\n", " ") for n in range(12)]
    old = "نمایشگاه کتاب اصفهان با حضور ناشران کرمانشاهی گشایش یافت و تا پایان هفته باز است."
    new = "مسابقه شطرنج یزد با حضور استادان بزرگ قزوینی آغاز شد و داوران آن را ستودند."
    paragraphs[7] = old
    doc = folder / "fa_long.txt"
    doc.write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
    (folder / "ar.txt").write_text(AR, encoding="utf-8")
    index_paths([folder], settings)
    before = set(chroma_state(settings))
    paragraphs[7] = new
    doc.write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
    report = index_paths([folder], settings)
    assert report.updated == ["fa_long.txt"] and report.unchanged == ["ar.txt"]
    assert_store_consistent(settings)  # SQLite and Chroma agree, offsets inside the text
    reader = IndexReader(settings)
    try:
        texts = [reader.chunk(i).text for i in range(len(reader.chunk_ids))]
        stored = reader.doc("fa_long.txt")[1]
        ids = set(reader.chunk_ids)
    finally:
        reader.close()
    assert "کرمانشاهی" not in stored and not any("کرمانشاهی" in t for t in texts)
    assert sum("قزوینی" in t for t in texts) >= 1
    assert set(chroma_state(settings)) == ids and ids != before
    with Engine(settings) as engine:
        for mode in ("bm25", "dense", "hybrid"):
            hits = engine.search("نمایشگاه کتاب اصفهان ناشران کرمانشاهی", k=50, mode=mode)
            assert not any("کرمانشاهی" in h.chunk.text for h in hits), mode
        hits = engine.search("مسابقه شطرنج یزد استادان قزوینی", k=3, mode="bm25")
        assert hits and "قزوینی" in hits[0].chunk.text


def _main() -> None:  # pragma: no cover - a look at the table: python tests/test_hostile_files.py
    for case in CASES + GOOD:
        print(f"{case.name:24} {case.outcome:8} {case.what}")
    print(len(CASES), "hostile inputs,", len(GOOD), "good files", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    _main()


def test_the_size_limit_of_a_jsonl_corpus_is_per_row(tmp_path: Path) -> None:
    """A JSONL corpus is many documents in one file: a file over the limit is read, and only
    a row over it is refused, with its line number."""
    rows = [{"id": f"fa-{n}", "text": f"{FA} ({n})"} for n in range(60)]
    rows += [{"id": f"ar-{n}", "text": f"{AR} ({n})"} for n in range(60)]
    rows.insert(7, {"id": "huge", "text": EN * (1024 * 1024 // len(EN) + 2)})
    path = tmp_path / "corpus.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    assert path.stat().st_size > 1024 * 1024 + 60 * len(FA.encode())
    settings = Settings(ingest=IngestSettings(max_mb=1)).with_index(tmp_path / "index")
    report = index_paths([path], settings)
    assert len(report.added) == 120 and "corpus.jsonl#huge" not in report.added
    (err,) = report.failed
    assert err.line == 8 and err.path == str(path)
    assert "over the 1 MB limit for one document (MANBA_INGEST__MAX_MB)" in err.reason
    single = tmp_path / "single.txt"
    single.write_bytes(path.read_bytes())  # the same bytes as one document: refused whole
    (refused,) = index_paths([single], settings).failed
    assert "over the 1 MB limit for one file" in refused.reason
