"""The embedding's n-gram IDF table: fitted at ingest, stored with the index, refitted when
the index doubles, and the same table used for every stored vector and every query."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import MINI, SAMPLES
from test_ingest import assert_store_consistent

from rag import vectorstore
from rag.config import EmbedSettings, Settings
from rag.embeddings import IDF_BUCKETS, make_embedding
from rag.errors import ConfigError
from rag.indexing import index_paths, search_text
from rag.store import IndexReader, IndexWriter, idf_sample

pytestmark = pytest.mark.filterwarnings(
    "ignore:legacy embedding function config:DeprecationWarning"
)


def _fresh_vectors(settings: Settings) -> tuple[np.ndarray, np.ndarray]:
    """(stored vectors, vectors re-embedded now with the stored table) in chunk order."""
    reader = IndexReader(settings)
    try:
        embedder = make_embedding(reader.embed_settings)
        embedder.set_idf(reader.idf_table)
        texts = []
        for i in range(len(reader.chunk_ids)):
            info, text = reader.doc(reader.doc_ids[i])
            chunk_text = text[int(reader.starts[i]) : int(reader.ends[i])]
            texts.append(search_text(info.title, chunk_text))
        return reader.vectors.copy(), embedder.matrix(texts)
    finally:
        reader.close()


def _idf_state(settings: Settings) -> tuple[np.ndarray | None, int]:
    with IndexWriter(settings) as w:
        return w.idf_state()


def test_first_ingest_fits_and_stores_a_table(tmp_path: Path) -> None:
    settings = Settings().with_index(tmp_path / "index")
    report = index_paths([SAMPLES], settings)
    table, fitted_on = _idf_state(settings)
    assert table is not None and table.shape == (IDF_BUCKETS,)
    assert fitted_on == report.total_chunks
    # Rare n-grams weigh more than ones found in every chunk; unseen slots weigh most.
    assert float(table.max()) > float(table.min()) > 0
    stored, fresh = _fresh_vectors(settings)
    np.testing.assert_allclose(stored, fresh, atol=1e-6)


def test_index_doubling_refits_and_reembeds_everything(tmp_path: Path) -> None:
    settings = Settings().with_index(tmp_path / "index")
    first = index_paths([SAMPLES / "002_ec4ddc9ec65b3ea5.txt"], settings)
    old_table, old_fit = _idf_state(settings)
    assert old_fit == first.total_chunks
    second = index_paths([SAMPLES, MINI], settings)  # far more than twice as many chunks
    new_table, new_fit = _idf_state(settings)
    assert new_fit == second.total_chunks > 2 * old_fit
    assert old_table is not None and new_table is not None
    assert not np.array_equal(old_table, new_table)
    stored, fresh = _fresh_vectors(settings)
    np.testing.assert_allclose(stored, fresh, atol=1e-6)  # old chunks re-embedded too
    assert_store_consistent(settings)
    # Chroma holds the re-embedded vectors, not the ones made with the first table.
    reader = IndexReader(settings)
    try:
        got = vectorstore.collection(settings).get(ids=reader.chunk_ids, include=["embeddings"])
        by_id = dict(zip(got["ids"], got["embeddings"], strict=True))
        for i, cid in enumerate(reader.chunk_ids):
            np.testing.assert_allclose(by_id[cid], reader.vectors[i], atol=1e-5)
    finally:
        reader.close()


def test_small_additions_keep_the_table(tmp_path: Path) -> None:
    settings = Settings().with_index(tmp_path / "index")
    index_paths([SAMPLES], settings)
    table, fitted_on = _idf_state(settings)
    index_paths([MINI / "fa_zelzele.txt"], settings)  # one more document: far from doubling
    same_table, same_fit = _idf_state(settings)
    assert table is not None and same_table is not None
    assert np.array_equal(table, same_table) and same_fit == fitted_on
    stored, fresh = _fresh_vectors(settings)
    np.testing.assert_allclose(stored, fresh, atol=1e-6)


def test_idf_can_be_switched_off(tmp_path: Path) -> None:
    settings = replace(Settings().with_index(tmp_path / "index"), embed=EmbedSettings(idf=False))
    index_paths([SAMPLES], settings)
    table, _ = _idf_state(settings)
    assert table is None
    reader = IndexReader(settings)
    try:
        assert reader.idf_table is None
    finally:
        reader.close()


@pytest.mark.parametrize(
    ("n", "size", "expected"),
    [
        (5, 10, [0, 1, 2, 3, 4]),  # fewer texts than the sample: all of them
        (10, 10, list(range(10))),
        (10, 4, [0, 3, 6, 9]),  # evenly spread, first and last included
        (7, 3, [0, 3, 6]),
    ],
)
def test_idf_sample_is_evenly_spread_and_in_order(n: int, size: int, expected: list[int]) -> None:
    words = [
        "پوتین",
        "أردوغان",
        "Idlib",
        "سوچی",
        "الكرملين",
        "Sochi",
        "ادلب",
        "تركيا",
        "war",
        "صلح",
    ]
    texts = [f"{words[i % len(words)]} {i}" for i in range(n)]
    sample = idf_sample(texts, size)
    assert sample == [texts[i] for i in expected]
    assert idf_sample(texts, size) == sample  # the same texts give the same sample


def test_idf_fitted_on_a_sample_of_the_chunks(tmp_path: Path) -> None:
    full = Settings().with_index(tmp_path / "full")
    sampled = replace(full, embed=replace(full.embed, idf_sample=10)).with_index(tmp_path / "s")
    report = index_paths([SAMPLES], full)
    assert report.total_chunks > 10
    index_paths([SAMPLES], sampled)
    full_table, _ = _idf_state(full)
    table, fitted_on = _idf_state(sampled)
    assert table is not None and full_table is not None
    # Fitted on 10 chunks, counted for the whole index (the doubling rule needs the size).
    assert fitted_on == report.total_chunks
    assert not np.allclose(table, full_table)
    # Every stored vector is embedded with the stored table, in both indexes.
    for settings in (full, sampled):
        stored, fresh = _fresh_vectors(settings)
        np.testing.assert_allclose(stored, fresh, atol=1e-6)


def test_idf_sample_below_ten_is_refused() -> None:
    with pytest.raises(ConfigError, match="MANBA_EMBED__IDF_SAMPLE"):
        EmbedSettings(idf_sample=3)
