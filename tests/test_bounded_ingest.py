"""An ingest of any size holds a bounded amount at a time: documents are chunked and stored in
batches of text (``indexing.BATCH_CHARS``), vectors are computed afterwards a batch at a time,
and a very long text file is indexed in parts (``ingest.PART_CHARS``). The index is the same as
when everything is done at once, and a run stopped between the two steps is completed by the
next one. benchmarks/hostile.py measures the memory on a 200 MB file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from rag import indexing, ingest
from rag.config import Settings
from rag.engine import Engine
from rag.indexing import index_paths
from rag.store import IndexReader
from tests.conftest import CORPUS, SAMPLES
from tests.test_ingest import assert_store_consistent

PARAGRAPHS = {
    "fa": "گزارش شماره {n}: شورای شهر {city} درباره آب آشامیدنی و سد {n} تصمیم گرفت. "
    "نمایندگان گفتند هزینه طرح {n} میلیارد ریال است.",
    "ar": "التقرير رقم {n}: قرر مجلس مدينة {city} بشأن مياه الشرب والسد رقم {n}. "
    "وقال الأعضاء إن كلفة المشروع {n} مليون دينار.",
    "en": "Report {n}: the council of {city} decided on drinking water and dam {n}. "
    "Members said plan {n} would cost {n} million dollars.",
}
CITIES = {"fa": "کرمان", "ar": "صور", "en": "Galway"}


def _rows(settings: Settings) -> list[tuple]:
    conn = sqlite3.connect(settings.index_dir / "manba.sqlite3")
    try:
        return conn.execute(
            "SELECT chunk_id, doc_id, start, end, tokens, xtokens, sentence_tokens, vector "
            "FROM chunks ORDER BY chunk_id"
        ).fetchall()
    finally:
        conn.close()


def test_batches_build_the_index_one_batch_builds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = Settings().with_index(tmp_path / "whole")
    assert index_paths([SAMPLES, CORPUS], whole).ok
    monkeypatch.setattr(indexing, "BATCH_CHARS", 500)  # about a batch a document
    monkeypatch.setattr(indexing, "VECTOR_BATCH", 7)
    batched = Settings().with_index(tmp_path / "batched")
    stored: list[int] = []
    real_flush = indexing._Run.flush

    def flush(self: indexing._Run) -> None:
        stored.append(len(self.batch))
        real_flush(self)

    monkeypatch.setattr(indexing._Run, "flush", flush)
    report = index_paths([SAMPLES, CORPUS], batched)
    assert report.ok and len([n for n in stored if n]) > 5  # many batches, each stored
    assert _rows(whole) == _rows(batched) and len(_rows(whole)) > 10  # same chunks, vectors
    assert_store_consistent(batched)


def _long_text(lang: str, paragraphs: int) -> str:
    template = PARAGRAPHS[lang]
    return (
        "\n\n".join(template.format(n=n, city=CITIES[lang]) for n in range(1, paragraphs + 1))
        + "\n"
    )


@pytest.mark.parametrize("lang", ["fa", "ar", "en"])
def test_a_long_text_is_indexed_in_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lang: str
) -> None:
    monkeypatch.setattr(ingest, "PART_CHARS", 4000)
    text = _long_text(lang, 400)
    path = tmp_path / f"long-{lang}.txt"
    path.write_text(text, encoding="utf-8")
    settings = Settings().with_index(tmp_path / "index")
    report = index_paths([path], settings)
    parts = sorted(report.added)
    assert len(parts) >= len(text) // 4000 and parts[0] == f"long-{lang}.txt#part-01"
    reader = IndexReader(settings)
    try:
        texts = [reader.doc(p)[1] for p in parts]
        infos = [reader.doc(p)[0] for p in parts]
    finally:
        reader.close()
    # The parts are the text, in order, cut at paragraph breaks, each at most PART_CHARS.
    assert "".join(texts) == text
    assert all(len(t) <= 4000 and t.endswith("\n") for t in texts)
    assert infos[1].title.endswith(f"(part 2 of {len(parts)})")
    assert_store_consistent(settings)
    # A sentence from the middle of the file is found, cited in its part at exact offsets.
    engine = Engine(settings)
    try:
        n = 300
        question = PARAGRAPHS[lang].format(n=n, city=CITIES[lang]).split(". ")[0]
        answer = engine.ask(question)
    finally:
        engine.close()
    cited = answer.citations[0]
    part_text = texts[parts.index(cited.doc_id)]
    assert part_text[cited.start : cited.end] == cited.quote and str(n) in cited.quote
    # Unchanged, a second run reads it and writes nothing.
    again = index_paths([path], settings)
    assert sorted(again.unchanged) == parts and not again.added and not again.updated


def test_a_run_stopped_before_its_vectors_is_completed_by_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings().with_index(tmp_path / "index")
    first = tmp_path / "first"
    first.mkdir()
    for lang in ("fa", "ar"):
        (first / f"{lang}.txt").write_text(_long_text(lang, 30), encoding="utf-8")
    assert index_paths([first], settings).ok
    (first / "en.txt").write_text(_long_text("en", 30), encoding="utf-8")

    def stop(self: indexing._Run, reindex: bool) -> None:
        raise KeyboardInterrupt  # killed after the chunks were stored, before their vectors

    monkeypatch.setattr(indexing._Run, "vectors", stop)
    with pytest.raises(KeyboardInterrupt):
        index_paths([first], settings)
    monkeypatch.undo()
    # Readers serve the state the manifest describes: the new document is not half there.
    reader = IndexReader(settings)
    try:
        assert set(reader.doc_ids) == {"fa.txt", "ar.txt"}
    finally:
        reader.close()
    report = index_paths([first], settings)  # nothing new to read: the vectors are filled in
    assert sorted(report.unchanged) == ["ar.txt", "en.txt", "fa.txt"] and not report.added
    # The same two runs, not stopped: the same chunks and vectors (IDF fitted on the first).
    clean = Settings().with_index(tmp_path / "clean")
    second = tmp_path / "second"
    second.mkdir()
    for lang in ("fa", "ar", "en"):
        if lang == "en":
            assert index_paths([second], clean).ok
        (second / f"{lang}.txt").write_bytes((first / f"{lang}.txt").read_bytes())
    assert index_paths([second], clean).added == ["en.txt"]
    got, want = _rows(settings), _rows(clean)
    assert [r[:7] for r in got] == [r[:7] for r in want]
    for a, b in zip(got, want, strict=True):
        assert np.allclose(np.frombuffer(a[7], np.float32), np.frombuffer(b[7], np.float32))
    assert_store_consistent(settings)
