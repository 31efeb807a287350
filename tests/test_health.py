"""A damaged Chroma store is found without crashing the process that looks (the check runs in
a child), moved aside, and rebuilt from SQLite; search gives the same results afterwards."""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_crash import QUERIES, make_corpus

from rag import health
from rag.cli import main
from rag.config import Settings
from rag.engine import Engine
from rag.indexing import index_paths
from rag.retrieval import Searcher
from rag.store import IndexReader, IndexWriter

pytestmark = pytest.mark.filterwarnings(
    "ignore:legacy embedding function config:DeprecationWarning"
)

CHROMA_QUERIES = [*QUERIES, "وزیر نیرو مصرف آب", "معرض الكتاب", "city council new schools"]


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Path]:
    """An index of more than 1,000 chunks: Chroma writes its HNSW files to disk only past
    1,000 vectors (below that it replays its log on every open, which hides damage to them)."""
    root = tmp_path_factory.mktemp("health")
    corpus = root / "corpus"
    make_corpus(corpus, 240, seed=7, sentences=(60, 60), numbers=12)
    settings = Settings().with_index(root / "index")
    report = index_paths([corpus], settings)
    assert report.ok and report.total_chunks > 1000, report.total_chunks
    return settings, corpus


def _results(settings: Settings) -> dict[str, list[str]]:
    """Top chunk ids per query: the default search, and the dense leg through Chroma."""
    out: dict[str, list[str]] = {}
    engine = Engine(settings)
    try:
        for q in QUERIES:
            out["default " + q] = [h.chunk.chunk_id for h in engine.search(q, k=5)]
    finally:
        engine.close()
    reader = IndexReader(settings)
    try:
        chroma = Searcher(
            reader, replace(settings, retrieval=replace(settings.retrieval, dense_backend="chroma"))
        )
        for q in CHROMA_QUERIES:
            got = chroma.dense(chroma.query(q), None, 3, floor=False)
            out["chroma " + q] = [reader.chunk_ids[i] for i, _ in got]
    finally:
        reader.close()
    return out


@pytest.fixture(scope="module")
def baseline(big: tuple[Settings, Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    # Read from a copy: opening Chroma rewrites files of the store it opens.
    dest = tmp_path_factory.mktemp("baseline") / "index"
    shutil.copytree(big[0].index_dir, dest, ignore=shutil.ignore_patterns(".lock"))
    return _results(big[0].with_index(dest))


def _segment(index: Path) -> Path:
    return next(p for p in (index / "chroma").iterdir() if p.is_dir())


def _overwrite(path: Path) -> None:
    path.write_bytes(os.urandom(path.stat().st_size))


DAMAGE: dict[str, Callable[[Path], object]] = {
    "garbage in data_level0.bin": lambda i: _overwrite(_segment(i) / "data_level0.bin"),
    "garbage in header.bin": lambda i: _overwrite(_segment(i) / "header.bin"),
    "garbage in index_metadata.pickle": lambda i: _overwrite(_segment(i) / "index_metadata.pickle"),
    "data_level0.bin truncated": lambda i: os.truncate(_segment(i) / "data_level0.bin", 1000),
    "header.bin truncated": lambda i: os.truncate(_segment(i) / "header.bin", 10),
    "chroma.sqlite3 garbage": lambda i: (i / "chroma" / "chroma.sqlite3").write_bytes(
        os.urandom(64 << 10)
    ),
    "link_lists.bin 3.7 TiB sparse": lambda i: os.truncate(
        _segment(i) / "link_lists.bin", int(3.7 * 2**40)
    ),
}


# Each damage repaired by one of the two ways in turn (both run the same check and rebuild).
CASES = [(name, ("ingest", "doctor")[i % 2]) for i, name in enumerate(DAMAGE)]


@pytest.mark.parametrize(("damage", "how"), CASES)
def test_damaged_chroma_is_quarantined_and_rebuilt(
    big: tuple[Settings, Path],
    baseline: dict,
    copy_index: Callable[..., Settings],
    runner: CliRunner,
    caplog: pytest.LogCaptureFixture,
    damage: str,
    how: str,
) -> None:
    settings = copy_index(big[0])
    index = settings.index_dir
    DAMAGE[damage](index)
    health_before = health.check(settings, sqlite3.connect(index / "manba.sqlite3"))
    assert not health_before.ok, health_before  # found, and this process is still alive
    t0 = time.perf_counter()
    if how == "ingest":
        with caplog.at_level(logging.WARNING, logger="rag.health"):
            report = index_paths([big[1]], settings)
        assert report.ok and not report.added and not report.updated
        (record,) = [r for r in caplog.records if "moved it to" in r.getMessage()]
        message = record.getMessage()
    else:
        result = runner.invoke(main, ["doctor", "--index", str(index)])
        assert result.exit_code == 0, result.output
        message = result.output
        assert "[warn] chroma store" in message
    seconds = time.perf_counter() - t0
    (moved,) = index.glob("chroma.broken-*")
    assert str(moved) in message and "damaged" in message
    assert (moved / "chroma.sqlite3").exists() or damage == "chroma.sqlite3 garbage"
    # Rebuilt from SQLite: every chunk, and nothing the store still lacks.
    conn = sqlite3.connect(index / "manba.sqlite3")
    n = conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    assert conn.execute("SELECT COUNT(*) FROM chunks WHERE synced=0").fetchone()[0] == 0
    after = health.check(settings, conn)
    conn.close()
    assert after.ok and after.count == n, after
    assert _results(settings) == baseline
    print(f"\n{damage} via {how}: {health_before.detail[:90]}; repaired in {seconds:.1f} s")


def test_a_healthy_store_is_checked_only_when_its_files_changed(
    big: tuple[Settings, Path],
    copy_index: Callable[..., Settings],
    runner: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = copy_index(big[0])
    calls: list[float] = []
    real = health.check

    def counted(*args: Any, **kwargs: Any) -> health.Health:
        got = real(*args, **kwargs)
        calls.append(got.seconds)
        assert got.ok, got
        return got

    monkeypatch.setattr(health, "check", counted)
    # A copy keeps the stamp of files as the ingest that wrote them left them: no check.
    IndexWriter(settings).close()
    assert calls == []
    # Touched since: checked once, and the stamp renewed.
    seg = _segment(settings.index_dir) / "length.bin"
    os.utime(seg, ns=(time.time_ns(), time.time_ns()))
    IndexWriter(settings).close()
    IndexWriter(settings).close()
    assert len(calls) == 1
    # doctor always checks, and says the store is fine.
    result = runner.invoke(main, ["doctor", "--index", str(settings.index_dir)])
    assert result.exit_code == 0 and "[ ok ] chroma store" in result.output, result.output
    assert len(calls) == 2 and not list(settings.index_dir.glob("chroma.broken-*"))
    print(f"\nhealth check of {health.check.__name__}: {calls[0]:.2f} s, {calls[1]:.2f} s")


def test_a_missing_store_is_rebuilt_by_the_next_ingest(
    big: tuple[Settings, Path], copy_index: Callable[..., Settings]
) -> None:
    settings = copy_index(big[0])
    shutil.rmtree(settings.index_dir / "chroma")
    report = index_paths([big[1]], settings)  # nothing new to read
    assert report.ok and not report.added
    conn = sqlite3.connect(settings.index_dir / "manba.sqlite3")
    n = conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    got = health.check(settings, conn)
    conn.close()
    assert got.ok and got.count == n
