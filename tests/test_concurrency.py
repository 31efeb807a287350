"""Concurrent readers during an ingest, in short (benchmarks/load.py runs it for a minute),
and two sessions uploading at the same time.

The load run is real: 16 question streams (Persian, Arabic and English questions) in two
spawned processes, each stream with an Engine of its own on one on-disk index, while a third
process adds and changes documents and re-indexes them in rounds.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from conftest import ROOT

from rag.config import Settings
from rag.store import IndexReader
from ui.library import UploadResult, index_uploads

sys.path.insert(0, str(ROOT / "benchmarks"))
import load


def test_sixteen_streams_during_an_ingest(tmp_path: Path) -> None:
    index = load.prepare(None, None, 30, tmp_path)
    summary = load.run(index, tmp_path, streams=16, procs=2, duration=8.0, pause=0.2)
    assert summary["errors"] == 0, summary["first_errors"]
    assert summary["answered"] >= 16, summary
    assert set(summary["answered_by_lang"]) == {"fa", "ar", "en"}, summary
    # The ingest published new states while the streams were asking, and the streams moved
    # to them as the app does (a new Engine when the manifest changes).
    assert len(summary["generations_published"]) >= 2, summary
    assert summary["reopens"] >= 1, summary
    # Every answer came from a published state: the generation its Engine served is one the
    # ingest published, and every cited live document is the version published in it.
    assert summary["unpublished_generations_seen"] == [], summary
    assert summary["live_citations"] > 0, summary
    assert summary["live_citations_of_a_wrong_version"] == 0, summary


def test_two_sessions_upload_at_the_same_time(tmp_path: Path) -> None:
    """The app's sessions are threads of one process: uploads started together are written
    one after the other, none refused because the other holds the index's lock."""
    settings = Settings().with_index(tmp_path / "index")
    files = {
        "fa": ("گزارش-همزمان.txt", "گزارش شورای شهر کرمان درباره آب آشامیدنی و سد.\n"),
        "ar": ("تقرير-متزامن.txt", "تقرير مجلس مدينة صور حول مياه الشرب والسد.\n"),
        "en": ("simultaneous.txt", "Minutes of the Galway council on water and the dam.\n"),
    }
    results: dict[str, list[UploadResult]] = {}
    start = threading.Barrier(len(files))

    def upload(lang: str) -> None:
        name, text = files[lang]
        start.wait()
        results[lang] = index_uploads([(name, text.encode("utf-8"))], settings)

    threads = [threading.Thread(target=upload, args=(lang,)) for lang in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    for lang, (name, _) in files.items():
        (result,) = results[lang]
        assert result.status == "added", (lang, result)
        assert result.stored_as == name
    reader = IndexReader(settings)
    try:
        assert sorted(d.doc_id for d in reader.documents()) == sorted(n for n, _ in files.values())
    finally:
        reader.close()
