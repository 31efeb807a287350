"""Failure and consistency cases: interrupted ingests, readers during writes, duplicate and
malformed identities, changed metadata, damaged or outdated indexes."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from conftest import MINI
from test_ingest import assert_store_consistent

from rag import indexing, store
from rag.cli import main
from rag.config import Settings
from rag.engine import Engine
from rag.errors import IndexDamagedError, StaleIndexError
from rag.indexing import index_paths

pytestmark = pytest.mark.filterwarnings(
    "ignore:legacy embedding function config:DeprecationWarning"
)

FA_DOC = "پوتین و اردوغان در سوچی درباره ادلب گفت‌وگو کردند. دو طرف بر کاهش تنش تاکید کردند.\n"
AR_DOC = "قال الكرملين إن بوتين وأردوغان بحثا الوضع في إدلب. واتفق الطرفان على خفض التوتر.\n"
EN_DOC = "Putin and Erdogan discussed Idlib in Sochi. Both sides agreed to reduce tensions.\n"


def _corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "fa.txt").write_text(FA_DOC, encoding="utf-8")
    (folder / "ar.txt").write_text(AR_DOC, encoding="utf-8")
    (folder / "en.txt").write_text(EN_DOC, encoding="utf-8")
    return folder


def _settings(tmp_path: Path) -> Settings:
    return Settings().with_index(tmp_path / "index")


def test_reader_keeps_its_snapshot_while_a_writer_changes_documents(tmp_path: Path) -> None:
    folder = _corpus(tmp_path)
    settings = _settings(tmp_path)
    index_paths([folder], settings)
    engine = Engine(settings)
    try:
        # A writer replaces the Persian document with a longer text while the engine is open.
        (folder / "fa.txt").write_text("خبر فوری: " * 20 + FA_DOC, encoding="utf-8")
        assert index_paths([folder], settings).updated == ["fa.txt"]
        answer = engine.ask("پوتین و اردوغان درباره ادلب چه گفتند؟")
        assert answer.citations
        for c in answer.citations:
            # The old engine quotes its own snapshot: offsets and text agree.
            assert engine.reader.doc(c.doc_id)[1][c.start : c.end] == c.quote
            assert c.quote in FA_DOC + AR_DOC + EN_DOC
    finally:
        engine.close()


def test_interrupted_ingest_is_seen_and_repaired(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _corpus(tmp_path)
    settings = _settings(tmp_path)
    index_paths([folder], settings)
    (folder / "en.txt").write_text(EN_DOC.replace("Idlib", "Kabul"), encoding="utf-8")

    def crash(self: store.IndexWriter) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(store.IndexWriter, "finish", crash)
    with pytest.raises(KeyboardInterrupt):
        index_paths([folder], settings)
    monkeypatch.undo()
    # The killed run replaced en.txt's chunks, which the manifest names: its state is gone,
    # so a reader serves what is stored, every document whole (none hidden), and says so.
    engine = Engine(settings)
    try:
        hits = engine.search("Kabul", mode="bm25")
        assert hits and hits[0].doc.doc_id == "en.txt" and "Kabul" in hits[0].chunk.text
        reader = engine.searcher.reader
        assert set(reader.doc_ids) == {"fa.txt", "ar.txt", "en.txt"}
    finally:
        engine.close()
    # The next ingest finds nothing new to read but brings Chroma and BM25 back in step.
    report = index_paths([folder], settings)
    assert report.unchanged and not report.added and not report.updated
    assert_store_consistent(settings)


def test_duplicate_ids_in_one_run_are_refused(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "news.txt").write_text(FA_DOC, encoding="utf-8")
    (b / "news.txt").write_text(AR_DOC, encoding="utf-8")
    report = index_paths([a / "news.txt", b / "news.txt"], _settings(tmp_path))
    assert report.added == ["news.txt"]
    assert len(report.failed) == 1
    assert str(b / "news.txt") in str(report.failed[0])
    assert "same document id" in report.failed[0].reason


def test_changed_metadata_is_picked_up(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    row = {"id": "x1", "title": "عنوان قديم", "text": AR_DOC, "meta": {"source": "A"}}
    path.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    settings = _settings(tmp_path)
    assert index_paths([path], settings).added == ["c.jsonl#x1"]
    row["title"] = "عنوان جديد"
    path.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    assert index_paths([path], settings).updated == ["c.jsonl#x1"]
    engine = Engine(settings)
    try:
        assert engine.reader.doc("c.jsonl#x1")[0].title == "عنوان جديد"
    finally:
        engine.close()


@pytest.mark.parametrize(
    ("row_id", "accepted_as"),
    [
        (0, "0"),
        (12, "12"),
        ("خبر-۱", "خبر-۱"),
        (True, None),
        ({"x": 1}, None),
        ("x" * 201, None),
        ("a\x1bb", None),
    ],
)
def test_jsonl_ids_are_checked(tmp_path: Path, row_id: object, accepted_as: str | None) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"id": row_id, "text": EN_DOC}) + "\n", encoding="utf-8")
    report = index_paths([path], _settings(tmp_path))
    if accepted_as is None:
        assert not report.added and len(report.failed) == 1
        assert report.failed[0].line == 1 and "'id'" in report.failed[0].reason
    else:
        assert report.added == [f"c.jsonl#{accepted_as}"]


def test_one_document_that_fails_to_index_does_not_sink_the_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = indexing.make_records

    def flaky(doc, chunker):  # type: ignore[no-untyped-def]
        if doc.doc_id == "ar.txt":
            raise RuntimeError("analyzer exploded")
        return real(doc, chunker)

    monkeypatch.setattr(indexing, "make_records", flaky)
    report = index_paths([_corpus(tmp_path)], _settings(tmp_path))
    assert sorted(report.added) == ["en.txt", "fa.txt"]
    assert len(report.failed) == 1 and "analyzer exploded" in str(report.failed[0])


def test_outdated_analyzer_asks_for_a_reindex(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    index_paths([_corpus(tmp_path)], settings)
    with sqlite3.connect(settings.index_dir / store.DB_NAME) as conn:
        conn.execute("UPDATE meta SET value='0' WHERE key='analyzer'")
    with pytest.raises(StaleIndexError, match="manba ingest"):
        Engine(settings)


def test_damaged_store_gives_a_clear_error(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    settings.index_dir.mkdir()
    (settings.index_dir / store.DB_NAME).write_bytes(b"this is not a database" * 100)
    with pytest.raises(IndexDamagedError, match="build"):
        Engine(settings)


def test_index_folder_name_with_hash_and_persian_letters(tmp_path: Path) -> None:
    settings = Settings().with_index(tmp_path / "نمایه #1")
    index_paths([MINI], settings)
    engine = Engine(settings)
    try:
        hits = engine.search("زمین‌لرزه")
        assert hits and hits[0].doc.doc_id == "fa_zelzele.txt"
    finally:
        engine.close()
    shutil.rmtree(settings.index_dir)


def test_remove_documents_from_every_index(tmp_path: Path, runner) -> None:  # type: ignore[no-untyped-def]
    folder = _corpus(tmp_path)
    settings = _settings(tmp_path)
    index_paths([folder], settings)
    args = ["remove", "ar.txt", "nope.txt", "--index", str(settings.index_dir)]
    result = runner.invoke(main, args)
    assert result.exit_code == 1
    assert "Removed 1 document(s)" in result.stdout
    assert "nope.txt: no such document" in result.stderr
    assert_store_consistent(settings)
    engine = Engine(settings)
    try:
        assert {d.doc_id for d in engine.reader.documents()} == {"en.txt", "fa.txt"}
        assert all(h.doc.doc_id != "ar.txt" for h in engine.search("بوتين وأردوغان إدلب", 10))
    finally:
        engine.close()


def test_ingest_needs_paths_unless_rebuilding(tmp_path: Path, runner) -> None:  # type: ignore[no-untyped-def]
    settings = _settings(tmp_path)
    index_paths([_corpus(tmp_path)], settings)
    result = runner.invoke(main, ["ingest", "--index", str(settings.index_dir)])
    assert result.exit_code == 2 and "--rebuild" in result.stderr
    result = runner.invoke(main, ["ingest", "--rebuild", "--index", str(settings.index_dir)])
    assert result.exit_code == 0, result.stderr
    assert "3 re-indexed" in result.stdout
    assert_store_consistent(settings)


def test_prune_removes_documents_whose_files_are_gone(tmp_path: Path, runner) -> None:  # type: ignore[no-untyped-def]
    folder = _corpus(tmp_path)
    rows = tmp_path / "rows.jsonl"
    rows.write_text(
        json.dumps({"id": "r1", "text": AR_DOC}, ensure_ascii=False)
        + "\n"
        + json.dumps({"id": "r2", "text": EN_DOC})
        + "\n",
        encoding="utf-8",
    )
    settings = _settings(tmp_path)
    index_paths([folder, rows], settings)
    (folder / "ar.txt").unlink()
    (folder / "fa.txt").rename(folder / "fa-renamed.txt")
    rows.write_text(json.dumps({"id": "r2", "text": EN_DOC}) + "\n", encoding="utf-8")
    (folder / "broken.txt").write_bytes(b"\x00\x01binary")
    # Without --prune nothing is removed.
    kept = index_paths([folder, rows], settings)
    assert not kept.removed
    report = index_paths([folder, rows], settings, prune=True)
    assert sorted(report.removed) == ["ar.txt", "fa.txt", "rows.jsonl#r1"]
    assert_store_consistent(settings)
    args = ["docs", "--json", "--index", str(settings.index_dir)]
    listed = json.loads(runner.invoke(main, args).stdout)["documents"]
    assert {d["doc_id"] for d in listed} == {"en.txt", "fa-renamed.txt", "rows.jsonl#r2"}
    for d in listed:
        assert set(d) == {"doc_id", "title", "lang", "date", "source", "chunks", "path"}
        assert d["chunks"] >= 1 and Path(d["path"]).exists()


def test_docs_lists_languages_of_the_samples(built_index: Settings, runner) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(main, ["docs", "--json", "--index", str(built_index.index_dir)])
    assert result.exit_code == 0, result.stderr
    langs = {d["doc_id"][:4]: d["lang"] for d in json.loads(result.stdout)["documents"]}
    # 001_ is English despite its Persian page furniture.
    assert langs == {"000_": "fa", "001_": "en", "002_": "en", "003_": "ar"}
    plain = runner.invoke(main, ["docs", "--index", str(built_index.index_dir)])
    assert "4 document(s)." in plain.stdout


def test_changed_settings_are_reported_with_the_rebuild_command(
    tmp_path: Path, runner, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    settings = _settings(tmp_path)
    index_paths([_corpus(tmp_path)], settings)
    args = ["ask", "What did Putin and Erdogan discuss?", "--index", str(settings.index_dir)]
    quiet = runner.invoke(main, args)
    assert quiet.exit_code == 0 and "note:" not in quiet.stderr
    monkeypatch.setenv("MANBA_CHUNK__MAX_TOKENS", "120")
    noted = runner.invoke(main, args)
    assert noted.exit_code == 0, noted.stderr
    assert "manba ingest --rebuild --index" in noted.stderr
    assert "[1]" in noted.stdout  # still answers from the index as built
