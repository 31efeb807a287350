"""Incremental indexing: a small change is written as a delta segment beside the base (no
rebuild of the whole lexical index), searchable at once, with deletions and edits honoured;
a large change rebuilds the base. Also the ingest worker pool: the same index either way."""

from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import bm25s
import numpy as np
import pytest

from rag import lexical, store, workers
from rag.config import Settings
from rag.engine import Engine
from rag.indexing import index_paths, remove_documents
from rag.store import IndexReader
from tests.conftest import CORPUS, SAMPLES

# (language, file name, text, question that only the new article answers, a word of it)
NEW_ARTICLES = [
    (
        "fa",
        "fa_bandar.txt",
        "اعتصاب کارگران بندر چابهار\n\nکارگران اسکله چابهار روز سه‌شنبه در اعتراض به "
        "دستمزدهای پرداخت‌نشده دست از کار کشیدند. این اعتصاب دو اسکله را تعطیل کرد.\n",
        "چرا کارگران بندر چابهار اعتصاب کردند؟",
        "چابهار",
    ),
    (
        "ar",
        "ar_mina.txt",
        "إضراب عمال ميناء صلالة\n\nبدأ عمال ميناء صلالة إضرابا يوم الثلاثاء احتجاجا على "
        "الأجور غير المدفوعة، وأغلق الإضراب رصيفين في الميناء.\n",
        "لماذا أضرب عمال ميناء صلالة؟",
        "صلالة",
    ),
    (
        "en",
        "en_port.txt",
        "Mombasa dockworkers strike\n\nDockworkers in Mombasa began a strike on Tuesday over "
        "unpaid wages. The strike closed two berths of the port.\n",
        "Why did the dockworkers in Mombasa strike?",
        "Mombasa",
    ),
]


def _manifest(settings: Settings) -> dict:
    return json.loads((settings.index_dir / "manifest.json").read_text("utf-8"))


def _top_docs(settings: Settings, question: str, k: int = 5) -> list[str]:
    engine = Engine(settings)
    try:
        return [h.chunk.doc_id for h in engine.search(question, k=k)]
    finally:
        engine.close()


@pytest.mark.parametrize(("lang", "name", "text", "question", "word"), NEW_ARTICLES)
def test_a_new_article_goes_into_a_delta_and_is_found(
    built_index: Settings,
    copy_index: Callable[..., Settings],
    tmp_path: Path,
    lang: str,
    name: str,
    text: str,
    question: str,
    word: str,
) -> None:
    settings = copy_index(built_index)
    base_before = _manifest(settings)["base"]
    base_dir = settings.index_dir / base_before["path"]
    bm25_mtime = (base_dir / "bm25").stat().st_mtime_ns
    folder = tmp_path / "new"
    folder.mkdir()
    (folder / name).write_text(text, "utf-8")
    report = index_paths([folder], settings)
    assert report.ok and report.added
    manifest = _manifest(settings)
    assert manifest["base"] == base_before  # the base was not rebuilt...
    assert (base_dir / "bm25").stat().st_mtime_ns == bm25_mtime
    delta = manifest["delta"]
    assert (delta["chunks"], delta["deleted"]) == (report.chunks, 0)  # ...a delta was written
    assert (settings.index_dir / delta["path"] / "bm25.npz").exists()
    assert manifest["counts"]["chunks"] == base_before["chunks"] + report.chunks
    new_id = report.added[0]
    assert _top_docs(settings, question)[0] == new_id
    reader = IndexReader(settings)
    try:
        assert reader.bm25 is not None and reader.bm25.segments == 2
        assert reader.vectors.shape[0] == len(reader.chunk_ids)
        # The new chunks' vectors are the stored ones, at their positions.
        conn = sqlite3.connect(settings.index_dir / "manba.sqlite3")
        for chunk_id, blob in conn.execute(
            "SELECT chunk_id, vector FROM chunks WHERE doc_id=?", (new_id,)
        ):
            i = reader.position[chunk_id]
            assert np.array_equal(reader.vectors[i], np.frombuffer(blob, np.float32))
        conn.close()
        # Its words have document frequencies in the combined index.
        term = next(t for t in reader.bm25.vocab_dict if word.lower()[:4] in t)
        tid = reader.bm25.vocab_dict[term]
        assert reader.bm25.doc_freqs()[tid] >= 1
    finally:
        reader.close()


def test_edits_and_removals_through_the_delta(
    built_index: Settings, copy_index: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = copy_index(built_index)
    folder = tmp_path / "new"
    folder.mkdir()
    _, name, text, question, _ = NEW_ARTICLES[2]
    (folder / name).write_text(text, "utf-8")
    added = index_paths([folder], settings).added[0]
    # Edited: the old chunks are gone from results, the new text is found.
    (folder / name).write_text(
        "Mombasa dockworkers end strike\n\nDockworkers in Mombasa ended their strike after "
        "the port authority agreed to pay the wages owed.\n",
        "utf-8",
    )
    report = index_paths([folder], settings)
    assert report.updated == [added]
    manifest = _manifest(settings)
    assert manifest["delta"]["chunks"] >= 1
    engine = Engine(settings)
    try:
        hits = engine.search("Mombasa dockworkers strike", k=10)
        texts = [h.chunk.text for h in hits if h.chunk.doc_id == added]
        assert texts and all("ended their strike" in t for t in texts), texts
        assert not any("unpaid wages" in h.chunk.text for h in hits)
    finally:
        engine.close()
    # A base document removed: its chunks drop out (deleted in the delta's count).
    victim = next(iter(_manifest(settings)["documents"]))
    assert victim != added
    removed, _ = remove_documents([victim], settings)
    assert removed == [victim]
    manifest = _manifest(settings)
    assert manifest["delta"]["deleted"] >= 1
    reader = IndexReader(settings)
    try:
        assert victim not in set(reader.doc_ids)
        assert reader.vectors.shape[0] == len(reader.chunk_ids)
    finally:
        reader.close()
    assert victim not in _top_docs(settings, question, k=10)


def test_a_large_change_rebuilds_the_base(
    built_index: Settings,
    copy_index: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = copy_index(built_index)
    monkeypatch.setattr(store, "DELTA_MIN", 2)
    monkeypatch.setattr(store, "DELTA_SHARE", 0.0)
    before = _manifest(settings)["base"]
    report = index_paths([CORPUS], settings)
    assert report.chunks > 2
    manifest = _manifest(settings)
    assert manifest["delta"] is None
    assert manifest["base"]["chunks"] == manifest["counts"]["chunks"] > before["chunks"]
    # The previous manifest's folders are kept for readers still loading them; older ones go.
    assert {p.name for p in (settings.index_dir / "segments").iterdir()} == {
        before["path"].split("/")[-1],
        manifest["base"]["path"].split("/")[-1],
    }


def test_delta_scores_are_bm25_with_the_base_statistics() -> None:
    base_tokens = [["idlib", "putin", "talk"], ["putin", "sochi"], ["oil", "price", "rise"]]
    base = bm25s.BM25(k1=1.2, b=0.75)
    base.index(base_tokens, show_progress=False)
    segment = lexical.Segment.of_bm25s(base)
    avgdl = lexical.mean_length(base_tokens)
    new = [["putin", "putin", "erdogan"], ["ادلب", "پوتین"]]
    delta = lexical.delta_segment(new, segment, k1=1.2, b=0.75, base_avgdl=avgdl)
    index = lexical.LexicalIndex([(segment, None), (delta, np.array([3, 4]))], 5)
    got = index.get_scores(["putin"])
    df, n = 2, 3  # "putin" in two of the base's three passages
    idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
    tf, dl = 2, 3
    want = idf * tf / (1.2 * (1 - 0.75 + 0.75 * dl / avgdl) + tf)
    assert got[3] == pytest.approx(want, rel=1e-5)
    # The base's own passages keep their bm25s scores.
    assert np.allclose(got[:3], base.get_scores(["putin"]), rtol=1e-5)
    # A term the base never saw counts as the rarest.
    assert index.get_scores(["پوتین"])[4] > index.get_scores(["putin"])[3] > 0
    assert index.doc_freqs()[index.vocab_dict["putin"]] == 3


def test_a_streamed_base_scores_as_bm25s_does(tmp_path: Path) -> None:
    """``lexical.build_base`` (one pass over space-joined tokens, compact postings) gives the
    scores bm25s gives for the same passages, saved and loaded in bm25s's format."""
    passages = [
        "پوتين اردوغان ادلب دیدار سوچی پوتين".split(),
        "بوتين أردوغان إدلب قمة سوتشي".split(),
        [],  # a passage with no token (only punctuation) keeps its place
        "putin erdogan idlib talk sochi putin putin".split(),
        "oil price rise ادلب".split(),
        "کرملین الكرملين kremlin".split(),
    ]
    reference = bm25s.BM25(k1=1.2, b=0.75)
    reference.index(passages, show_progress=False)
    built, avgdl = lexical.build_base(lambda: (" ".join(p) for p in passages), k1=1.2, b=0.75)
    assert built is not None and avgdl == pytest.approx(lexical.mean_length(passages))
    built.save(str(tmp_path / "base"), show_progress=False)
    loaded = lexical.load_segment(tmp_path / "base")
    assert loaded is not None and loaded.n_docs == len(passages)
    ours = lexical.LexicalIndex([(loaded, None)], len(passages))
    theirs = lexical.LexicalIndex([(lexical.Segment.of_bm25s(reference), None)], len(passages))
    for term in {t for p in passages for t in p}:
        assert np.allclose(ours.get_scores([term]), theirs.get_scores([term]), rtol=1e-5), term
        assert (
            ours.doc_freqs()[ours.vocab_dict[term]] == theirs.doc_freqs()[theirs.vocab_dict[term]]
        )
    assert np.allclose(
        ours.get_scores(["پوتين", "idlib", "ادلب"]), theirs.get_scores(["پوتين", "idlib", "ادلب"])
    )
    assert lexical.build_base(lambda: iter(["", " "]), k1=1.2, b=0.75)[0] is None


def test_deleted_passages_drop_out_of_a_segment() -> None:
    base = bm25s.BM25()
    base.index([["a", "b"], ["a"], ["b", "c"]], show_progress=False)
    seqs = np.array([1, 2, 3])
    positions = lexical.positions_of(seqs, np.array([1, 3]))  # seq 2 deleted
    assert positions is not None and positions.tolist() == [0, -1, 1]
    assert lexical.positions_of(seqs, seqs) is None
    index = lexical.LexicalIndex([(lexical.Segment.of_bm25s(base), positions)], 2)
    scores = index.get_scores(["a"])
    assert scores.shape == (2,) and scores[0] > 0 and scores[1] == 0
    assert index.doc_freqs()[index.vocab_dict["a"]] == 1


def test_a_reader_keeps_its_snapshot_while_a_delta_is_written(
    built_index: Settings, copy_index: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = copy_index(built_index)
    old = Engine(settings)
    try:
        n_before = len(old.reader.chunk_ids)
        folder = tmp_path / "new"
        folder.mkdir()
        _, name, text, question, _ = NEW_ARTICLES[0]
        (folder / name).write_text(text, "utf-8")
        new_id = index_paths([folder], settings).added[0]
        # The open reader answers from its own state, consistently.
        assert len(old.reader.chunk_ids) == n_before
        assert new_id not in [h.chunk.doc_id for h in old.search(question)]
    finally:
        old.close()
    assert _top_docs(settings, question)[0] == new_id


def test_the_worker_pool_builds_the_same_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunking, n-gram statistics and vectors computed in worker processes give exactly
    the index the calling process builds alone."""
    inline = Settings().with_index(tmp_path / "inline")
    assert index_paths([SAMPLES, CORPUS], inline).ok
    monkeypatch.setattr(workers, "MIN_DOCS", 2)
    monkeypatch.setattr(workers, "MIN_TEXTS", 2)
    monkeypatch.setattr(workers, "default_workers", lambda: 2)
    pooled = Settings().with_index(tmp_path / "pooled")
    assert index_paths([SAMPLES, CORPUS], pooled).ok
    rows = []
    for settings in (inline, pooled):
        conn = sqlite3.connect(settings.index_dir / "manba.sqlite3")
        rows.append(
            conn.execute(
                "SELECT chunk_id, start, end, tokens, xtokens, sentence_tokens, vector "
                "FROM chunks ORDER BY chunk_id"
            ).fetchall()
        )
        conn.close()
    assert rows[0] == rows[1] and len(rows[0]) > 10


def test_a_reader_opened_during_an_ingest_sees_the_old_state(
    built_index: Settings,
    copy_index: Callable[..., Settings],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """New chunks are in SQLite before the derived indexes are written: a reader opened then
    serves the previous state at once (no in-memory rebuild), and the next one the new."""
    settings = copy_index(built_index)
    n_before = _manifest(settings)["counts"]["chunks"]
    seen: dict[str, int] = {}
    real_finish = store.IndexWriter.finish

    def finish(self: store.IndexWriter) -> dict:
        reader = IndexReader(settings)
        try:
            seen["chunks"] = len(reader.chunk_ids)
            seen["vectors"] = reader.vectors.shape[0]
        finally:
            reader.close()
        return real_finish(self)

    monkeypatch.setattr(store.IndexWriter, "finish", finish)
    folder = tmp_path / "new"
    folder.mkdir()
    _, name, text, question, _ = NEW_ARTICLES[1]
    (folder / name).write_text(text, "utf-8")
    with caplog.at_level(logging.WARNING, logger="rag.store"):
        report = index_paths([folder], settings)
    assert seen == {"chunks": n_before, "vectors": n_before}
    assert "rebuilding" not in caplog.text
    assert _top_docs(settings, question)[0] == report.added[0]


_READER = """
import json, sys, time
from rag.config import Settings
from rag.engine import Engine
settings = Settings().with_index(sys.argv[1])
counts = []
deadline = time.time() + float(sys.argv[2])
while time.time() < deadline:
    engine = Engine(settings)
    hits = engine.search("Putin Erdogan Idlib", k=5)
    assert hits, "no hits"
    counts.append(len(engine.reader.chunk_ids))
    engine.close()
print(json.dumps(sorted(set(counts))))
"""


def test_reader_processes_serve_while_one_ingest_writes(
    built_index: Settings,
    copy_index: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two serving processes open and query the index again and again while this process
    ingests (a delta, then a change large enough to rebuild the base): no reader fails, and
    each sees one of the states the writer published, never a mixture."""
    settings = copy_index(built_index)
    states = {_manifest(settings)["counts"]["chunks"]}
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", _READER, str(settings.index_dir), "12"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    extra = settings.index_dir.parent / "extra"
    extra.mkdir()
    for _, name, text, _, _ in NEW_ARTICLES:
        (extra / name).write_text(text, "utf-8")
    time.sleep(3)
    assert index_paths([extra], settings).ok
    states.add(_manifest(settings)["counts"]["chunks"])
    monkeypatch.setattr(store, "DELTA_MIN", 1)
    monkeypatch.setattr(store, "DELTA_SHARE", 0.0)
    time.sleep(2)
    assert index_paths([CORPUS], settings).ok
    assert _manifest(settings)["delta"] is None  # the base was rebuilt
    states.add(_manifest(settings)["counts"]["chunks"])
    for proc in readers:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err[-2000:]
        seen = json.loads(out.strip().splitlines()[-1])
        assert seen and set(seen) <= states, (seen, states)


def test_a_failed_chroma_sync_is_repaired_by_the_next_ingest(
    built_index: Settings,
    copy_index: Callable[..., Settings],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The manifest (what readers search) is written before Chroma is brought in step: when
    that fails the new article is searchable already, and the next ingest, with nothing new to
    read, still sends Chroma what it lacks."""
    from tests.test_ingest import assert_store_consistent

    settings = copy_index(built_index)
    folder = tmp_path / "new"
    folder.mkdir()
    _, name, text, question, _ = NEW_ARTICLES[0]
    (folder / name).write_text(text, "utf-8")

    def down(self: store.IndexWriter) -> None:
        raise ConnectionError("Chroma is down")

    monkeypatch.setattr(store.IndexWriter, "_sync_chroma", down)
    with pytest.raises(ConnectionError):
        index_paths([folder], settings)
    monkeypatch.undo()
    new_id = _top_docs(settings, question)[0]
    assert new_id.endswith(name)
    report = index_paths([folder], settings)
    assert report.unchanged == [new_id] and not report.added
    assert_store_consistent(settings)
