"""The library page (ui/library.py), driven headless with streamlit.testing, and the plain
functions behind its uploads and removals, on a copy of an index per test.

Markdown values are the raw strings the app sends: text inside its HTML is written with
character entities, so it is unescaped before looking for names.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import (
    ROOT,
    SAMPLE_AR,
    SAMPLE_EN,
    SAMPLE_EN2,
    SAMPLE_FA,
    SAMPLES,
    read_text,
    sample_id,
)
from streamlit.testing.v1 import AppTest

from rag.config import Settings, from_env
from rag.engine import Engine
from rag.errors import ConfigError
from rag.store import IndexReader
from ui.library import (
    MB,
    UPLOADS,
    check_upload,
    display_name,
    index_uploads,
    matches,
    remove_document,
    safe_file_name,
    sort_rows,
)

APP = str(ROOT / "app.py")
TIMEOUT = 90
IDS = [sample_id(p) for p in (SAMPLE_FA, SAMPLE_EN, SAMPLE_EN2, SAMPLE_AR)]
PERSIAN_NAME = "گزارش تازه 📰.txt"
PERSIAN_TEXT = (
    "نشست شورای شهر زنگبار درباره قایق‌های شبانه\n\n"
    "شورای شهر زنگبار روز دوشنبه با راه‌اندازی قایق‌های شبانه به جزیره پمبا موافقت کرد. "
    "به گفته شورا، نخستین قایق‌های شبانه از ماه مه به راه می‌افتند.\n"
)
PERSIAN_QUESTION = "قایق‌های شبانه زنگبار به کدام جزیره می‌روند؟"
# Display may drop bidi embedding/override/isolate marks from text; compare without them.
BIDI_CONTROLS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")
BINARY = bytes(range(256)) * 8  # NUL and control bytes: not text in any encoding


@pytest.fixture
def index_copy(built_index: Settings, copy_index: Callable[..., Settings]) -> Settings:
    return copy_index(built_index)


def open_library(monkeypatch: pytest.MonkeyPatch, index_dir: Path, **env: str) -> AppTest:
    monkeypatch.setenv("MANBA_INDEX_DIR", str(index_dir))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.sidebar.radio(key="page").set_value("Library").run()
    ok(at)
    assert "Library" in [h.value for h in at.header]
    return at


def ok(at: AppTest) -> AppTest:
    assert not at.exception, at.exception
    return at


def markdowns(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def listed(at: AppTest) -> list[tuple[str, str]]:
    """(doc_id, language) of each row of the documents table, in the order shown."""
    tables = [v for v in markdowns(at) if '<tr data-doc-id="' in v]
    if not tables:
        return []
    (table,) = tables
    rows = re.findall(r'<tr data-doc-id="([^"]*)" data-lang="([^"]*)">', table)
    return [(html.unescape(d), html.unescape(lang)) for d, lang in rows]


def title_cells(at: AppTest) -> dict[str, str]:
    """doc_id -> the opening tag of its title cell."""
    (table,) = [v for v in markdowns(at) if '<tr data-doc-id="' in v]
    found = re.findall(r'<tr data-doc-id="([^"]*)"[^>]*>(<td [^>]*>)', table)
    return {html.unescape(d): td for d, td in found}


def messages(at: AppTest, kind: str) -> list[str]:
    return [html.unescape(e.value) for e in getattr(at, kind)]


def search_doc_ids(settings: Settings, text: str) -> list[str]:
    with Engine(settings) as engine:
        return [h.doc.doc_id for h in engine.search(text, k=5)]


def stored_ids(settings: Settings) -> list[str]:
    reader = IndexReader(settings)
    try:
        return [d.doc_id for d in reader.documents()]
    finally:
        reader.close()


def upload(at: AppTest, files: list[tuple[str, bytes]]) -> AppTest:
    at.get("file_uploader")[0].set_value([(n, b, "text/plain") for n, b in files]).run()
    ok(at)
    at.button(key="library-index").click().run()
    return ok(at)


# --- the list -----------------------------------------------------------------------------


def test_library_lists_the_samples(monkeypatch: pytest.MonkeyPatch, index_copy: Settings) -> None:
    at = open_library(monkeypatch, index_copy.index_dir)
    assert listed(at) == list(zip(IDS, ["fa", "en", "en", "ar"], strict=True))
    cells = title_cells(at)
    assert 'dir="rtl"' in cells[IDS[0]] and 'lang="fa"' in cells[IDS[0]]
    assert 'dir="rtl"' in cells[IDS[3]] and 'lang="ar"' in cells[IDS[3]]
    assert 'dir="ltr"' in cells[IDS[1]]
    (table,) = [html.unescape(v) for v in markdowns(at) if '<tr data-doc-id="' in v]
    # Title, source, date and when indexed are shown; the table cannot widen the page.
    assert "Turkish, Russian Defense Ministers Discuss Escalation In Idlib" in table
    assert "أردوغان وبوتين يتفقان" in table and "Asharq Al-Awsat" in table
    assert "2019-05-21" in table and "UTC" in table
    assert "table-layout: fixed" in table
    assert any("overflow-wrap: anywhere" in v for v in markdowns(at))
    assert "4 of 4 documents" in [c.value for c in at.caption]


def test_library_search_any_script(monkeypatch: pytest.MonkeyPatch, index_copy: Settings) -> None:
    at = open_library(monkeypatch, index_copy.index_dir)
    box = at.text_input(key="library-query")
    # Persian spelling finds the Arabic title too (أ folds to ا), as search does.
    box.set_value("اردوغان").run()
    assert [d for d, _ in listed(at)] == [IDS[0], IDS[3]]
    box.set_value("Idlib").run()
    assert [d for d, _ in listed(at)] == [IDS[1], IDS[2]]
    box.set_value("erdogan").run()  # Erdoğan, accent and case folded
    assert [d for d, _ in listed(at)] == [IDS[1]]
    box.set_value("asharq").run()  # by source
    assert [d for d, _ in listed(at)] == [IDS[2]]
    box.set_value(IDS[3][:4]).run()  # by document id
    assert [d for d, _ in listed(at)] == [IDS[3]]
    box.set_value("no such thing").run()
    assert listed(at) == [] and "No document matches the search." in [c.value for c in at.caption]
    # The document picker offers only what the search found.
    box.set_value("Idlib").run()
    assert at.selectbox(key="library-pick").options == [
        f"\u2068{t}\u2069 · \u2068{d}\u2069"
        for d, t in [
            (
                IDS[1],
                "Kremlin says agreed with Turkey to defuse tensions in Idlib, Erdoğan asks "
                "Russia to step aside",
            ),
            (IDS[2], "Turkish, Russian Defense Ministers Discuss Escalation In Idlib"),
        ]
    ]


def test_library_sorts(monkeypatch: pytest.MonkeyPatch, index_copy: Settings) -> None:
    at = open_library(monkeypatch, index_copy.index_dir)
    sort = at.selectbox(key="library-sort")
    sort.set_value("Language").run()
    assert [lang for _, lang in listed(at)] == ["ar", "en", "en", "fa"]
    sort.set_value("Date").run()  # oldest first, undated last
    assert [d for d, _ in listed(at)] == [IDS[2], IDS[1], IDS[0], IDS[3]]
    at.toggle(key="library-desc").set_value(True).run()  # newest first, undated still last
    assert [d for d, _ in listed(at)] == [IDS[1], IDS[2], IDS[0], IDS[3]]
    sort.set_value("Chunks").run()
    assert listed(at)[0][0] == IDS[3], "the Arabic sample has the most chunks"
    at.toggle(key="library-desc").set_value(False).run()
    sort.set_value("Title").run()
    assert [d for d, _ in listed(at)] == [IDS[1], IDS[2], IDS[3], IDS[0]]
    sort.set_value("Indexed").run()
    assert sorted(d for d, _ in listed(at)) == IDS


def test_sort_and_match_functions(index_copy: Settings) -> None:
    with Engine(index_copy) as engine:
        rows = engine.reader.catalog()
    assert [r.chunks for r in rows] == [3, 3, 3, 4]
    assert all(r.indexed_at > 0 and r.chars > 1000 for r in rows)
    assert [r.info.doc_id for r in sort_rows(rows, "Date", descending=True)][-2:] == [
        IDS[0],
        IDS[3],
    ]
    assert [r.info.doc_id for r in rows if matches(r, "إدلب")] == [IDS[3]]
    assert [r.info.doc_id for r in rows if matches(r, "  ")] == IDS


# --- one document whole -----------------------------------------------------------------


@pytest.mark.parametrize(("prefix", "lang"), [(SAMPLE_FA, "fa"), (SAMPLE_AR, "ar")])
def test_library_shows_a_document_whole_right_to_left(
    monkeypatch: pytest.MonkeyPatch, index_copy: Settings, prefix: str, lang: str
) -> None:
    at = open_library(monkeypatch, index_copy.index_dir)
    doc_id = sample_id(prefix)
    at.selectbox(key="library-pick").set_value(doc_id).run()
    ok(at)
    blocks = [v for v in markdowns(at) if 'class="manba-text"' in v]
    assert len(blocks) == 2, blocks  # the title, then the text
    for b in blocks:
        assert 'dir="rtl"' in b and f'lang="{lang}"' in b
    text = BIDI_CONTROLS.sub("", read_text(SAMPLES / doc_id))
    shown = BIDI_CONTROLS.sub("", html.unescape(blocks[1]).replace("<br>", "\n"))
    assert text.rstrip("\n") in shown, "the whole text is shown"
    assert re.search(r"\n", blocks[1]) is None, "no line end inside the HTML block"


def test_library_document_text_stays_text(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    hostile = (
        "# Heading that is not one\n\n"
        "Ferry news ![x](http://127.0.0.1:9/x.png) <img src=x onerror=alert(1)> "
        "[click](javascript:alert(1)) **bold** `code`\n"
    )
    settings = Settings().with_index(tmp_path / "index")
    (result,) = index_uploads([("hostile.md", hostile.encode())], settings)
    assert result.ok, result
    at = open_library(monkeypatch, settings.index_dir)
    at.selectbox(key="library-pick").set_value("hostile.md").run()
    ok(at)
    for value in markdowns(at):
        for raw in ("](", "http://", "<img", "javascript:", "**", "# Heading"):
            assert raw not in value, (raw, value)
    text = [v for v in markdowns(at) if 'class="manba-text"' in v][-1]
    assert "<img src=x" in html.unescape(text)


# --- removal ------------------------------------------------------------------------------


def test_library_removes_a_document_after_confirmation(
    monkeypatch: pytest.MonkeyPatch, index_copy: Settings
) -> None:
    gone = sample_id(SAMPLE_EN2)
    assert gone in search_doc_ids(index_copy, "Turkish Russian defense ministers escalation")
    at = open_library(monkeypatch, index_copy.index_dir)
    at.selectbox(key="library-pick").set_value(gone).run()
    at.button(key="library-remove").click().run()
    ok(at)
    assert any("Remove this document" in w for w in messages(at, "warning"))
    # Cancel first: nothing changes.
    at.button(key="library-remove-no").click().run()
    assert gone in [d for d, _ in listed(at)] and gone in stored_ids(index_copy)
    at.button(key="library-remove").click().run()
    at.button(key="library-remove-yes").click().run()
    ok(at)
    assert any(gone in m for m in messages(at, "success")), messages(at, "success")
    assert [d for d, _ in listed(at)] == [d for d in IDS if d != gone]
    assert at.selectbox(key="library-pick").value is None
    assert stored_ids(index_copy) == [d for d in IDS if d != gone]
    hits = search_doc_ids(index_copy, "Turkish Russian defense ministers escalation")
    assert gone not in hits and hits, "the others still answer"
    assert sample_id(SAMPLE_EN) in search_doc_ids(index_copy, "Kremlin Turkey Idlib tensions")
    assert (SAMPLES / gone).exists(), "a file ingested from elsewhere stays on disk"


def test_removing_the_last_document_keeps_the_library_open(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = Settings().with_index(tmp_path / "index")
    (result,) = index_uploads([(PERSIAN_NAME, PERSIAN_TEXT.encode())], settings)
    stored = settings.index_dir / UPLOADS / result.stored_as
    assert stored.exists()
    at = open_library(monkeypatch, settings.index_dir)
    at.selectbox(key="library-pick").set_value(result.stored_as).run()
    at.button(key="library-remove").click().run()
    at.button(key="library-remove-yes").click().run()
    ok(at)
    assert not stored.exists(), "the uploaded copy is deleted with its document"
    assert listed(at) == []
    assert "No documents in the index." in [c.value for c in at.caption]
    assert at.get("file_uploader"), "a new upload can fill the index again"


def test_remove_document_function(index_copy: Settings) -> None:
    assert remove_document(IDS[0], index_copy)
    assert not remove_document(IDS[0], index_copy), "already gone"
    assert stored_ids(index_copy) == IDS[1:]


# --- uploads ------------------------------------------------------------------------------


def test_library_upload_good_and_bad(monkeypatch: pytest.MonkeyPatch, index_copy: Settings) -> None:
    at = open_library(monkeypatch, index_copy.index_dir)
    assert ".pdf" in " ".join(c.value for c in at.caption)
    hostile = "[x](javascript:alert(1)) **b**.txt"
    files = [
        (PERSIAN_NAME, PERSIAN_TEXT.encode()),
        ("broken.txt", BINARY),
        ("empty.md", b""),
        (hostile, BINARY),
    ]
    upload(at, files)
    successes, errors = messages(at, "success"), messages(at, "error")
    # Names are isolated (FSI ... PDI) so a right-to-left name keeps the sentence in order.
    assert any(f"\u2068{PERSIAN_NAME}\u2069: indexed" in s for s in successes), successes
    assert any(hostile in e for e in errors), errors
    for raw in [e.value for e in at.error]:
        assert "](" not in raw and "**" not in raw, raw
    assert any("broken.txt" in e and "not a text file" in e for e in errors), errors
    assert any("empty.md" in e and "empty" in e for e in errors), errors
    # Listed with the others (the engine was reloaded), shown right to left.
    ids = [d for d, _ in listed(at)]
    assert ids == [*IDS, PERSIAN_NAME], ids
    assert 'dir="rtl"' in title_cells(at)[PERSIAN_NAME]
    assert stored_ids(index_copy) == sorted([*IDS, PERSIAN_NAME])
    assert search_doc_ids(index_copy, PERSIAN_QUESTION)[0] == PERSIAN_NAME
    uploads = sorted(p.name for p in (index_copy.index_dir / UPLOADS).iterdir())
    assert PERSIAN_NAME in uploads and "broken.txt" not in uploads
    # The uploader is empty again; the results stay.
    assert at.get("file_uploader")[0].value == []


def test_library_refuses_a_file_over_the_limit(
    monkeypatch: pytest.MonkeyPatch, index_copy: Settings
) -> None:
    at = open_library(monkeypatch, index_copy.index_dir, MANBA_UPLOAD__MAX_MB="1")
    assert any("up to 1 MB each" in c.value for c in at.caption)
    big = ("big.txt", ("Zanzibar ferries. " * 100_000).encode())
    assert len(big[1]) > MB
    upload(at, [big])
    errors = messages(at, "error")
    assert any("big.txt" in e and "over the limit of 1 MB" in e for e in errors), errors
    assert [d for d, _ in listed(at)] == IDS
    assert not (index_copy.index_dir / UPLOADS / "big.txt").exists()


def test_first_upload_builds_a_missing_index(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "new-index"
    at = open_library(monkeypatch, missing)
    assert not at.error
    assert any("upload files below" in i.value for i in at.info)
    assert not missing.exists(), "opening the page writes nothing"
    upload(at, [(PERSIAN_NAME, PERSIAN_TEXT.encode())])
    assert listed(at) == [(PERSIAN_NAME, "fa")]
    assert at.metric[0].value == "1"  # documents
    # The Ask page works on the new index.
    at.sidebar.radio(key="page").set_value("Ask").run()
    ok(at)
    assert not at.error and at.chat_input


def test_index_uploads_names(index_copy: Settings) -> None:
    uploads = index_copy.index_dir / UPLOADS
    results = index_uploads(
        [
            ("../../escape.txt", b"Mombasa dockworkers strike over unpaid wages.\n"),
            ("C:\\Users\\x\\خبر عربي.txt", "أضرب عمال الميناء في مومباسا.\n".encode()),
            # The name of a document ingested from elsewhere: numbered, the sample untouched.
            (IDS[2], b"Another text under a sample's name, about ferries to Pemba.\n"),
            ("notes.exe", b"MZ"),
        ],
        index_copy,
    )
    assert [r.status for r in results] == ["added", "added", "added", "failed"]
    assert [r.stored_as for r in results[:3]] == [
        "escape.txt",
        "خبر عربي.txt",
        IDS[2].replace(".txt", " (2).txt"),
    ]
    assert "unsupported file type '.exe'" in results[3].problems[0]
    assert sorted(p.name for p in uploads.iterdir()) == sorted(r.stored_as for r in results[:3])
    assert not (index_copy.index_dir.parent / "escape.txt").exists()
    with Engine(index_copy) as engine:
        info, text = engine.reader.doc(IDS[2])
        assert info.path == str(SAMPLES / IDS[2]) and "Defense Ministers" in text
    assert len(stored_ids(index_copy)) == 7


def test_index_uploads_replaces_and_restores(index_copy: Settings) -> None:
    uploads = index_copy.index_dir / UPLOADS
    first = b"Pemba ferry timetable\n\nFerries to Pemba leave at nine.\n"
    changed = b"Pemba ferry timetable\n\nFerries to Pemba leave at ten.\n"
    assert [r.status for r in index_uploads([("t.txt", first)], index_copy)] == ["added"]
    assert [r.status for r in index_uploads([("t.txt", first)], index_copy)] == ["unchanged"]
    assert [r.status for r in index_uploads([("t.txt", changed)], index_copy)] == ["updated"]
    # A broken re-upload is reported; the indexed document and its file stay as they were.
    (bad,) = index_uploads([("t.txt", BINARY)], index_copy)
    assert bad.status == "failed" and bad.name == "t.txt"
    assert "not a text file" in bad.problems[0]
    assert (uploads / "t.txt").read_bytes() == changed
    assert not any((uploads / ".previous").iterdir())
    with Engine(index_copy) as engine:
        assert "ten" in engine.reader.doc("t.txt")[1]
    # Two files of one name in one batch are both kept.
    results = index_uploads([("a.txt", b"Alpha ferry.\n"), ("a.txt", b"Beta ferry.\n")], index_copy)
    assert [r.stored_as for r in results] == ["a.txt", "a (2).txt"]


def test_index_uploads_jsonl_reports_bad_rows(index_copy: Settings) -> None:
    rows = [
        {"id": 1, "title": "Pemba", "text": "Ferries to Pemba start in May.", "lang": "en"},
        "not an object",
        {"id": 2, "title": "Zanzibar", "text": "The council met on Monday.", "lang": "en"},
    ]
    data = "\n".join(json.dumps(r) for r in rows).encode()
    (result,) = index_uploads([("news.jsonl", data)], index_copy)
    assert result.status == "added" and result.doc_ids == ("news.jsonl#1", "news.jsonl#2")
    assert result.problems and result.problems[0].startswith("line 2:")


def test_index_uploads_over_the_limit_writes_nothing(tmp_path: Path) -> None:
    settings = from_env({"MANBA_INDEX_DIR": str(tmp_path / "index"), "MANBA_UPLOAD__MAX_MB": "1"})
    (result,) = index_uploads([("big.txt", b"x" * (MB + 1))], settings)
    assert result.status == "failed" and "over the limit of 1 MB" in result.problems[0]
    assert not settings.index_dir.exists()


def test_upload_setting_is_checked() -> None:
    assert Settings().upload.max_mb == 20
    with pytest.raises(ConfigError, match="MANBA_UPLOAD__MAX_MB"):
        from_env({"MANBA_UPLOAD__MAX_MB": "0"})
    config = (ROOT / ".streamlit" / "config.toml").read_text("utf-8")
    (server_cap,) = re.findall(r"^maxUploadSize = (\d+)", config, re.M)
    assert int(server_cap) >= Settings().upload.max_mb


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\win.md", "win.md"),
        ("گزارش 📰.txt", "گزارش 📰.txt"),
        ("تقرير\u202egnp.txt", "تقريرgnp.txt"),
        ("..", "upload"),
        (".hidden.txt", "hidden.txt"),
        ('a:b*c?"d<e>f|g.txt', "a_b_c__d_e_f_g.txt"),
        ("nul\x00byte.txt", "nulbyte.txt"),
        ("خبر" * 100 + ".docx", "خبر" * 32 + "خ.docx"),
    ],
)
def test_safe_file_name(given: str, expected: str) -> None:
    name = safe_file_name(given)
    assert name == expected
    assert "/" not in name and len(name.encode()) <= 200


def test_check_upload_and_display_name() -> None:
    assert check_upload("a.TXT", 10, 20) is None
    assert "unsupported" in (check_upload("a.exe", 10, 20) or "")
    assert "empty" in (check_upload("a.pdf", 0, 20) or "")
    assert "21.0 MB is over the limit of 20 MB" in (check_upload("a.pdf", 21 * MB, 20) or "")
    assert display_name("\u202ename\x07.txt\n") == "name.txt"
