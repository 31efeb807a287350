"""The index folder: the Chroma collection on disk, the writer lock, derived indexes that can
be rebuilt from SQLite, and the manifest."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings
from click.testing import CliRunner
from conftest import MINI, SAMPLES, read_text

from rag.cli import main
from rag.config import Settings
from rag.engine import Engine
from rag.errors import EmptyIndexError, IndexBusyError, IndexNotFoundError
from rag.indexing import index_paths
from rag.ingest import iter_sources
from rag.retrieval import Filters, Searcher
from rag.store import IndexReader, IndexWriter
from rag.vectorstore import COLLECTION

# chromadb 1.5 warns about its own legacy config when reading a collection's configuration.
pytestmark = pytest.mark.filterwarnings(
    "ignore:legacy embedding function config:DeprecationWarning"
)

DENSE_QUERIES = [
    "What did Putin and Erdogan discuss about Idlib?",
    "Hulusi Akar Shoigu phone call",
    "توافق سوچی چه بود؟",
    "کرملین بیانیه سوریه",
    "ماذا ناقش بوتين وأردوغان بشأن إدلب؟",
    "اتفاق سوتشي",
]


def open_collection(index_dir: Path) -> Any:
    # Same client settings as rag.vectorstore (Chroma refuses two settings for one path).
    client = chromadb.PersistentClient(
        path=str(index_dir / "chroma"),
        settings=ChromaSettings(anonymized_telemetry=False, allow_reset=True),
    )
    return client.get_collection(COLLECTION)


@pytest.fixture(scope="module")
def reader(built_index: Settings) -> Iterator[IndexReader]:
    r = IndexReader(built_index)
    yield r
    r.close()


# --- Chroma ----------------------------------------------------------------------------------


def test_chroma_collection_exists_on_disk(built_index: Settings, reader: IndexReader) -> None:
    assert (built_index.index_dir / "chroma" / "chroma.sqlite3").is_file()
    collection = open_collection(built_index.index_dir)
    assert collection.count() == len(reader.chunk_ids) > 0
    config = collection.configuration or {}
    space = (config.get("hnsw") or {}).get("space") or (collection.metadata or {}).get("hnsw:space")
    assert space == "cosine"
    got = collection.get(include=["documents", "metadatas", "embeddings"])
    assert sorted(got["ids"]) == sorted(reader.chunk_ids)
    # Vectors and metadata only: the text stays in SQLite (no full-text index in Chroma).
    assert not any(got["documents"] or [])
    rows = zip(got["ids"], got["metadatas"], got["embeddings"], strict=True)
    for cid, meta, vector in rows:
        i = reader.position[cid]
        assert meta["doc_id"] == reader.doc_ids[i] and meta["lang"] == reader.langs[i]
        assert len(vector) == built_index.embed.dim
        assert (
            abs(float(sum(a * b for a, b in zip(vector, reader.vectors[i], strict=True))) - 1)
            < 1e-3
        )


def test_chroma_metadata_names_the_document(built_index: Settings, reader: IndexReader) -> None:
    got = open_collection(built_index.index_dir).get(include=["metadatas"])
    for cid, meta in zip(got["ids"], got["metadatas"], strict=True):
        assert meta["doc_id"] == reader.doc_ids[reader.position[cid]]


def test_updating_one_document_does_not_rebuild_chroma(
    mini_copy: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings().with_index(tmp_path / "index")
    index_paths([mini_copy], settings)
    target = mini_copy / "fa_zelzele.txt"
    target.write_text(read_text(target) + "\nپس‌لرزه‌ای به بزرگی ۳٫۱ ریشتر نیز ثبت شد.\n", "utf-8")
    with caplog.at_level(logging.WARNING, logger="rag.store"):
        report = index_paths([mini_copy], settings)
    assert report.updated == ["fa_zelzele.txt"]
    assert not [r for r in caplog.records if "out of step" in r.getMessage()]


def test_chroma_dense_agrees_with_exact(built_index: Settings, reader: IndexReader) -> None:
    exact = Searcher(reader, built_index)
    chroma_settings = replace(
        built_index, retrieval=replace(built_index.retrieval, dense_backend="chroma")
    )
    chroma = Searcher(reader, chroma_settings)
    for text in DENSE_QUERIES:
        query = exact.query(text)
        want = exact.dense(query, None, 5)
        got = chroma.dense(query, None, 5)
        assert want and got, text
        assert got[0][0] == want[0][0], text
        assert got[0][1] == pytest.approx(want[0][1], abs=1e-4)
    # With a filter, the Chroma leg keeps only passages the mask allows.
    mask = exact.mask(Filters(langs=("fa",)))
    for text in DENSE_QUERIES:
        got = chroma.dense(exact.query(text), mask, 5)
        assert all(reader.langs[i] == "fa" for i, _ in got)


# --- the writer lock -------------------------------------------------------------------------


def test_second_writer_is_busy(tmp_path: Path, runner: CliRunner) -> None:
    settings = Settings().with_index(tmp_path / "index")
    first = IndexWriter(settings)
    try:
        with pytest.raises(IndexBusyError, match="another process"):
            IndexWriter(settings)
        with pytest.raises(IndexBusyError):
            index_paths([MINI], settings)
        result = runner.invoke(main, ["ingest", str(MINI), "--index", str(settings.index_dir)])
        assert result.exit_code == 2
        assert result.stderr.startswith("error: ")
        assert "another process" in result.stderr
        assert "Traceback" not in result.output
    finally:
        first.close()
    second = IndexWriter(settings)  # the lock is released on close
    second.close()


# --- derived indexes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "remove",
    [
        ("{base}/vectors.npy",),
        ("{base}/bm25",),
        ("{base}/seq.npy",),
        ("{base}/vectors.npy", "{base}/bm25"),
        ("segments",),
        ("manifest.json",),
    ],
)
def test_reader_rebuilds_missing_derived_indexes(
    built_index: Settings, engine: Engine, copy_index, remove: tuple[str, ...]
) -> None:
    settings = copy_index(built_index)
    base = json.loads((settings.index_dir / "manifest.json").read_text("utf-8"))["base"]["path"]
    for name in remove:
        path = settings.index_dir / name.format(base=base)
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    damaged = Engine(settings)
    try:
        assert damaged.reader.vectors.shape == engine.reader.vectors.shape
        for text in DENSE_QUERIES:
            want = [(h.chunk.chunk_id, round(h.score, 5)) for h in engine.search(text)]
            got = [(h.chunk.chunk_id, round(h.score, 5)) for h in damaged.search(text)]
            assert got == want, text
        answer = damaged.ask("What did Putin and Erdogan discuss about Idlib?")
        assert answer.hits
    finally:
        damaged.close()


def test_reader_errors_for_missing_and_empty_index(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match="manba ingest"):
        IndexReader(Settings().with_index(tmp_path / "missing"))
    empty = Settings().with_index(tmp_path / "empty")
    with IndexWriter(empty) as w:
        w.finish()
    with pytest.raises(EmptyIndexError, match="manba ingest"):
        IndexReader(empty)


# --- manifest --------------------------------------------------------------------------------


def test_manifest(built_index: Settings, reader: IndexReader) -> None:
    manifest = json.loads((built_index.index_dir / "manifest.json").read_text("utf-8"))
    assert manifest["fingerprint"] == built_index.fingerprint() == Settings().fingerprint()
    assert manifest["generation"] == reader.generation >= 1
    counts = manifest["counts"]
    assert counts["documents"] == 4
    assert counts["chunks"] == len(reader.chunk_ids)
    assert counts["documents_by_lang"] == {"fa": 1, "en": 2, "ar": 1}
    want = {d.doc_id: d.content_hash for d in iter_sources([SAMPLES])}
    assert manifest["documents"] == want
    assert len({len(h) for h in want.values()}) == 1  # sha256 hex of text and metadata


def test_generation_grows_with_each_change_only(
    mini_index: Settings, copy_index, tmp_path: Path
) -> None:
    settings = copy_index(mini_index)
    path = settings.index_dir / "manifest.json"
    before = json.loads(path.read_text("utf-8"))["generation"]
    segments = settings.index_dir / "segments"
    bm25_mtime = segments.stat().st_mtime_ns
    # An unchanged folder: nothing is written, not even the derived indexes.
    assert index_paths([MINI], settings).unchanged
    assert json.loads(path.read_text("utf-8"))["generation"] == before
    assert segments.stat().st_mtime_ns == bm25_mtime
    # One changed document: the generation moves and readers see the same one.
    folder = tmp_path / "mini"
    shutil.copytree(MINI, folder)
    (folder / "fa_zelzele.txt").write_text("زمین‌لرزه در کرمان.\n", encoding="utf-8")
    index_paths([folder], settings)
    after = json.loads(path.read_text("utf-8"))
    assert after["generation"] > before
    reader = IndexReader(settings)
    try:
        assert reader.generation == after["generation"]
    finally:
        reader.close()
