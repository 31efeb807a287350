"""Ingest: document identity, titles, languages, stored originals, incremental updates,
bad inputs, CLI error handling and re-chunking after a settings change."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import BAD, CORPUS, MINI, read_text

from rag import vectorstore
from rag.chunking import chunk_spans
from rag.cli import main
from rag.config import ChunkSettings, Settings, from_env
from rag.errors import ConfigError, IngestError
from rag.indexing import index_paths
from rag.ingest import iter_sources
from rag.store import IndexReader
from rag.tokens import count
from rag.types import SourceDoc

MINI_LANGS = {
    "ar_maarad.txt": "ar",
    "fa_aloodegi.txt": "fa",
    "fa_zelzele.txt": "fa",
    "world/en_rover.md": "en",
}
CORPUS_LANGS = {
    "en-ecb": "en",
    "en-heat": "en",
    "en-chess": "en",  # no "lang" in the row: detected
    "fa-barf": "fa",
    "fa-zaferan": "fa",
    "fa-metro": "fa",  # detected
    "ar-kitab": "ar",
    "ar-jeddah": "ar",
    "ar-metro": "ar",  # detected
}
# Every bad input of tests/data/bad, once each: (file name, JSONL line or None).
BAD_INPUTS = {
    ("empty.txt", None): "empty",
    ("binary.txt", None): "binary",
    ("report.pdf", None): "not a readable PDF",
    ("doubtful_latin1.txt", None): "doubtful",
    ("mixed.jsonl", 2): "JSON",
    ("mixed.jsonl", 3): "text",
}


def docs_of(paths: list[str | Path]) -> dict[str, SourceDoc]:
    out = {}
    for item in iter_sources(paths):
        assert isinstance(item, SourceDoc), item
        out[item.doc_id] = item
    return out


def chunk_spans_by_doc(reader: IndexReader) -> dict[str, list[tuple[int, int, str]]]:
    spans: dict[str, list[tuple[int, int, str]]] = {}
    for i, doc_id in enumerate(reader.doc_ids):
        spans.setdefault(doc_id, []).append(
            (int(reader.starts[i]), int(reader.ends[i]), reader.chunk_ids[i])
        )
    return spans


def chroma_state(settings: Settings) -> dict[str, tuple[str, int, np.ndarray]]:
    """chunk_id -> (doc_id, ord, vector) of every vector in the index's Chroma collection
    (embedded or on the server ``settings.store.chroma_url`` names)."""
    name = vectorstore.collection_name(settings)
    got = vectorstore.client(settings).get_collection(name).get(include=["metadatas", "embeddings"])
    return {
        cid: (str(meta["doc_id"]), int(meta["ord"]), np.asarray(vec, dtype=np.float32))
        for cid, meta, vec in zip(got["ids"], got["metadatas"], got["embeddings"], strict=True)
    }


def assert_store_consistent(settings: Settings) -> None:
    """SQLite chunks, their offsets and the Chroma collection all agree, nothing stale."""
    reader = IndexReader(settings)
    try:
        chroma = chroma_state(settings)
        assert sorted(chroma) == sorted(reader.chunk_ids)
        for i, cid in enumerate(reader.chunk_ids):
            _, text = reader.doc(reader.doc_ids[i])
            start, end = int(reader.starts[i]), int(reader.ends[i])
            assert 0 <= start < end <= len(text)
            doc_id, ord_, vector = chroma[cid]
            assert (doc_id, ord_) == (reader.doc_ids[i], int(reader.ords[i]))
            assert np.allclose(vector, reader.vectors[i], atol=1e-6)
            for s, e in json.loads(reader._sentences[i]):
                assert start <= s < e <= end
        assert reader.vectors.shape[0] == len(reader.chunk_ids)
    finally:
        reader.close()


# --- identity, titles, languages --------------------------------------------------------------


def test_doc_id_is_path_relative_to_given_folder() -> None:
    docs = docs_of([MINI])
    assert set(docs) == set(MINI_LANGS)
    for doc_id, doc in docs.items():
        assert Path(doc.path) == MINI / doc_id


def test_doc_id_of_a_file_given_directly_is_its_name() -> None:
    (doc,) = docs_of([MINI / "world" / "en_rover.md"]).values()
    assert doc.doc_id == "en_rover.md"
    (doc,) = docs_of([MINI / "world"]).values()
    assert doc.doc_id == "en_rover.md"


def test_jsonl_doc_id_is_relative_path_hash_row_id(tmp_path: Path) -> None:
    (tmp_path / "feeds").mkdir()
    shutil.copy(CORPUS, tmp_path / "feeds" / "news.jsonl")
    docs = docs_of([tmp_path])
    assert set(docs) == {f"feeds/news.jsonl#{rid}" for rid in CORPUS_LANGS}
    assert set(docs_of([CORPUS])) == {f"corpus.jsonl#{rid}" for rid in CORPUS_LANGS}


def test_jsonl_row_without_id_gets_line_number(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    rows = [
        {"id": "a", "text": "Floods closed the main highway between Lahore and Islamabad."},
        {"text": "Heavy snow cut power to thousands of homes in eastern Ontario."},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    assert set(docs_of([path])) == {"rows.jsonl#a", "rows.jsonl#line2"}


def test_titles_are_metadata_title_or_first_nonempty_line() -> None:
    docs = docs_of([MINI])
    for doc_id, doc in docs.items():
        first = next(line.strip() for line in read_text(MINI / doc_id).splitlines() if line.strip())
        # A Markdown heading may keep or drop its "#" marker; the words must be the first line.
        assert doc.title.lstrip("# ") == first.lstrip("# "), doc_id
        assert not doc.title.startswith("\ufeff")
    assert docs["fa_aloodegi.txt"].title == "تعطیلی مدارس تهران به دلیل آلودگی هوا"

    rows = {json.loads(line)["id"]: json.loads(line) for line in CORPUS.open(encoding="utf-8")}
    for doc_id, doc in docs_of([CORPUS]).items():
        row = rows[doc_id.split("#", 1)[1]]
        assert doc.title == (row.get("title") or row["meta"]["title"])
    assert docs_of([CORPUS])["corpus.jsonl#ar-metro"].title == "بدء التشغيل التجريبي لقطار الرياض"


def test_jsonl_title_falls_back_to_first_line(tmp_path: Path) -> None:
    path = tmp_path / "untitled.jsonl"
    text = "\n  سیل در جاده چالوس\nراه چالوس به دلیل ریزش کوه و سیلاب تا اطلاع ثانوی بسته شد."
    path.write_text(json.dumps({"id": "x", "text": text}, ensure_ascii=False), encoding="utf-8")
    (doc,) = docs_of([path]).values()
    assert doc.title == "سیل در جاده چالوس"
    assert doc.lang == "fa"


def test_language_tags_of_fixtures() -> None:
    assert {d: doc.lang for d, doc in docs_of([MINI]).items()} == MINI_LANGS
    got = {d.split("#", 1)[1]: doc.lang for d, doc in docs_of([CORPUS]).items()}
    assert got == CORPUS_LANGS


def test_jsonl_metadata_nested_or_top_level() -> None:
    docs = {d.split("#", 1)[1]: doc for d, doc in docs_of([CORPUS]).items()}
    assert docs["en-ecb"].meta["date"] == "2024-03-07"  # in "meta"
    assert docs["en-ecb"].meta["source"] == "Reuters"
    assert docs["en-ecb"].meta["url"] == "https://example.com/en/ecb-rates"
    assert docs["en-heat"].meta["date"] == "2024-05-28"  # top level
    assert docs["en-heat"].meta["source"] == "AP"
    assert docs["en-ecb"].meta["date_from"] == "metadata"
    # No date in the metadata nor stated in the text: left empty, never guessed.
    assert docs["fa-metro"].meta["date"] == ""
    assert docs["fa-metro"].meta["date_from"] == "none"


def test_language_tags_in_index(mini_index: Settings) -> None:
    reader = IndexReader(mini_index)
    try:
        assert {d.doc_id: d.lang for d in reader.documents()} == MINI_LANGS
        for i, doc_id in enumerate(reader.doc_ids):
            assert reader.langs[i] == MINI_LANGS[doc_id]
    finally:
        reader.close()


# --- the stored original ---------------------------------------------------------------------


def test_original_text_is_stored_whole(mini_index: Settings) -> None:
    reader = IndexReader(mini_index)
    try:
        for doc_id in MINI_LANGS:
            info, text = reader.doc(doc_id)
            assert text == read_text(MINI / doc_id)
            assert not text.startswith("\ufeff")
            assert info.path == str(MINI / doc_id)
    finally:
        reader.close()
    assert (MINI / "fa_aloodegi.txt").read_bytes().startswith(b"\xef\xbb\xbf")


def test_jsonl_text_is_stored_whole(jsonl_index: Settings) -> None:
    rows = [json.loads(line) for line in CORPUS.open(encoding="utf-8")]
    reader = IndexReader(jsonl_index)
    try:
        for row in rows:
            info, text = reader.doc(f"corpus.jsonl#{row['id']}")
            assert text == row["text"]
            assert info.date == (row.get("date") or row.get("meta", {}).get("date") or "")
    finally:
        reader.close()


def test_fresh_index_is_consistent(mini_index: Settings) -> None:
    assert_store_consistent(mini_index)


# --- incremental ingest ----------------------------------------------------------------------


def test_reingest_unchanged_writes_nothing(mini_index: Settings, copy_index) -> None:
    settings = copy_index(mini_index)
    report = index_paths([MINI], settings)
    assert sorted(report.unchanged) == sorted(MINI_LANGS)
    assert report.added == report.updated == report.reindexed == []
    assert report.chunks == 0
    assert report.ok
    assert report.total_documents == 4


def test_edit_reingest_updates_one_doc_without_stale_chunks(
    mini_copy: Path, tmp_path: Path
) -> None:
    settings = Settings().with_index(tmp_path / "index")
    index_paths([mini_copy], settings)
    target = mini_copy / "world" / "en_rover.md"
    original = read_text(target)
    longer = (
        original
        + "\n"
        + "\n\n".join(
            f"Update {n}: the rover drove {n * 40} metres toward the western rim of Jezero Crater, "
            f"where the team hopes to find older rocks exposed by an ancient impact."
            for n in range(1, 16)
        )
    )

    def reingest(text: str) -> list[tuple[int, int, str]]:
        target.write_text(text, encoding="utf-8")
        report = index_paths([mini_copy], settings)
        assert report.updated == ["world/en_rover.md"]
        assert sorted(report.unchanged) == sorted(set(MINI_LANGS) - {"world/en_rover.md"})
        assert report.added == [] and report.ok and report.total_documents == 4
        # A fresh build of the same files gives the same chunks for the edited document.
        fresh = Settings().with_index(tmp_path / f"fresh{len(text)}")
        index_paths([mini_copy], fresh)
        got, want = IndexReader(settings), IndexReader(fresh)
        try:
            assert got.doc("world/en_rover.md")[1] == text
            mine = chunk_spans_by_doc(got)["world/en_rover.md"]
            assert mine == chunk_spans_by_doc(want)["world/en_rover.md"]
            assert len(got.chunk_ids) == len(want.chunk_ids)
        finally:
            got.close()
            want.close()
        assert_store_consistent(settings)
        return mine

    grown = reingest(longer)
    assert len(grown) > 1
    shrunk = reingest(original)  # back to one chunk: the extra ones must be gone
    assert len(shrunk) == 1


# --- bad inputs ------------------------------------------------------------------------------


def test_bad_inputs_fail_one_by_one_and_lose_nothing(mini_index: Settings, copy_index) -> None:
    settings = copy_index(mini_index)
    report = index_paths([BAD], settings)
    assert all(isinstance(e, IngestError) for e in report.failed)
    seen = Counter((Path(e.path).name, e.line) for e in report.failed)
    assert seen == Counter(BAD_INPUTS.keys())
    for err in report.failed:
        assert Path(err.path).parent == BAD
        assert str(err).startswith(f"{err.path}:")
        if err.line is not None:
            assert f"{err.path}:{err.line}:" in str(err)
        assert BAD_INPUTS[(Path(err.path).name, err.line)].lower() in err.reason.lower()
    assert report.added == ["mixed.jsonl#ok-1"]
    assert not report.ok
    reader = IndexReader(settings)
    try:
        assert {d.doc_id for d in reader.documents()} == {*MINI_LANGS, "mixed.jsonl#ok-1"}
        for doc_id in MINI_LANGS:
            assert reader.doc(doc_id)[1] == read_text(MINI / doc_id)
            assert doc_id in reader.doc_ids  # its chunks are still there
        assert reader.doc("mixed.jsonl#ok-1")[0].date == "2024-08-11"
    finally:
        reader.close()


def test_missing_path_is_an_ingest_error(tmp_path: Path) -> None:
    (err,) = list(iter_sources([tmp_path / "nope"]))
    assert isinstance(err, IngestError)
    assert "nope" in str(err)


def test_cli_ingest_bad_folder_exit_1_one_error_line_each(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(main, ["ingest", str(BAD), "--index", str(tmp_path / "index")])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == len(BAD_INPUTS)
    for name, line in BAD_INPUTS:
        where = str(BAD / name) + (f":{line}:" if line else ":")
        assert sum(e.startswith(f"error: {where}") for e in errors) == 1, (where, errors)
    assert "1 document(s)" in result.stdout


# --- clear CLI messages ----------------------------------------------------------------------


@pytest.mark.parametrize("command", ["ask", "search"])
@pytest.mark.parametrize("question", ["", "   ", "?!؟ ..."])
def test_cli_empty_question_is_a_clear_error(
    runner: CliRunner, built_index: Settings, command: str, question: str
) -> None:
    result = runner.invoke(main, [command, question, "--index", str(built_index.index_dir)])
    assert result.exit_code not in (0, None)
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.stderr.startswith("error: ")
    assert "question" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", [["ask", "Idlib"], ["search", "Idlib"], ["info"]])
def test_cli_missing_index_is_a_clear_error(
    runner: CliRunner, tmp_path: Path, command: list[str]
) -> None:
    missing = tmp_path / "no-such-index"
    result = runner.invoke(main, [*command, "--index", str(missing)])
    assert result.exit_code not in (0, None)
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.stderr.startswith(f"error: no index at {missing}")
    assert "manba ingest" in result.stderr
    assert "Traceback" not in result.output
    assert not missing.exists()


# --- settings change: re-chunk from the stored originals -------------------------------------


def test_new_chunk_settings_rechunk_every_document(mini_index: Settings, copy_index) -> None:
    copied = copy_index(mini_index)
    env = {"MANBA_INDEX_DIR": str(copied.index_dir), "MANBA_CHUNK__MAX_TOKENS": "80"}
    settings = from_env(env)
    assert settings.chunk.max_tokens == 80
    assert settings.fingerprint() != mini_index.fingerprint()
    before = IndexReader(copied)
    n_before = len(before.chunk_ids)
    before.close()

    report = index_paths([], settings)
    assert sorted(report.reindexed) == sorted(MINI_LANGS)
    assert report.total_documents == 4
    assert report.total_chunks == report.chunks > n_before
    reader = IndexReader(settings)
    try:
        for doc_id in MINI_LANGS:
            assert reader.doc(doc_id)[1] == read_text(MINI / doc_id)
        # Smaller chunks than before (the exact bound is test_chunks_fit_max_tokens).
        assert max(count([reader.chunk(i).text for i in range(len(reader.chunk_ids))])) <= 90
    finally:
        reader.close()
    manifest = json.loads((settings.index_dir / "manifest.json").read_text("utf-8"))
    assert manifest["fingerprint"] == settings.fingerprint()
    assert_store_consistent(settings)

    again = index_paths([MINI], settings)  # settings now match: nothing to redo
    assert again.reindexed == [] and again.chunks == 0
    assert sorted(again.unchanged) == sorted(MINI_LANGS)


def test_cli_env_chunk_setting_rechunks(
    runner: CliRunner, mini_index: Settings, copy_index
) -> None:
    copied = copy_index(mini_index)
    result = runner.invoke(
        main,
        ["ingest", str(MINI), "--index", str(copied.index_dir)],
        env={"MANBA_CHUNK__MAX_TOKENS": "80"},
    )
    assert result.exit_code == 0, result.output
    assert "4 re-indexed for new settings" in result.stdout
    assert "4 unchanged" in result.stdout


def test_chunks_fit_max_tokens() -> None:
    for path in sorted(p for p in MINI.rglob("*") if p.is_file()):
        text = read_text(path)
        for span in chunk_spans(text, max_tokens=80, overlap_tokens=40):
            assert count([text[span.start : span.end]])[0] <= 80, (path.name, span.ord)


def test_rechunk_after_ingest_in_same_process(tmp_path: Path) -> None:
    settings = Settings().with_index(tmp_path / "index")
    index_paths([MINI], settings)
    new = replace(settings, chunk=ChunkSettings(max_tokens=80))
    report = index_paths([MINI], new)
    assert sorted(report.reindexed) == sorted(MINI_LANGS)
    assert_store_consistent(new)


def test_invalid_chunk_settings_lose_nothing(
    mini_index: Settings, copy_index, runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Settings that cannot chunk (overlap >= max) are refused before anything is touched."""
    copied = copy_index(mini_index)
    with pytest.raises(ConfigError, match="MANBA_CHUNK__OVERLAP_TOKENS"):
        ChunkSettings(max_tokens=30)  # overlap stays 40
    monkeypatch.setenv("MANBA_CHUNK__MAX_TOKENS", "30")
    result = runner.invoke(main, ["ingest", str(MINI), "--index", str(copied.index_dir)])
    assert result.exit_code != 0
    assert "overlap_tokens" in result.stderr and "Traceback" not in result.stderr
    reader = IndexReader(copied)
    try:
        assert {d.doc_id for d in reader.documents()} == set(MINI_LANGS)
    finally:
        reader.close()
