"""Model embeddings (connected mode): an OpenAI-compatible /embeddings endpoint on 127.0.0.1
through the real ``openai`` client, as an index option: batched, cached by content hash,
recorded in the fingerprint, fused with BM25 and the cross-lingual leg; the question's
translations join the fusion; failures are said, and leave the index as it was."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from rag.config import EmbedSettings, LLMSettings, Settings
from rag.embeddings import EmbeddingCache, LocalEmbedding, make_embedding
from rag.engine import Engine
from rag.errors import ConfigError, ModelError
from rag.indexing import index_paths
from tests.conftest import SAMPLES
from tests.openai_server import serve


def _model_settings(tmp: Path, base_url: str, **embed: Any) -> Settings:
    return replace(
        Settings().with_index(tmp / "index"),
        embed=EmbedSettings(backend="openai", model="fake-embed", batch_size=4, **embed),
        llm=replace(LLMSettings(), base_url=base_url, max_retries=0, timeout=5, translate=False),
    )


def _no_chat(messages: list[dict[str, Any]]) -> str:
    raise AssertionError("no chat call expected")


def test_ingest_with_model_embeddings_batches_caches_and_records(tmp_path: Path) -> None:
    with serve(_no_chat) as fake:
        settings = _model_settings(tmp_path, fake.base_url)
        report = index_paths([SAMPLES], settings)
        assert report.ok and report.total_documents == 4
        n_chunks = report.total_chunks
        requests = [r for r in fake.requests if "input" in r]
        # one probe for the dimension, then batches of at most 4 texts
        assert all(len(r["input"]) <= 4 for r in requests)
        assert all(r["model"] == "fake-embed" for r in requests)
        assert len(fake.embedded) == n_chunks + 1
        manifest = json.loads((settings.index_dir / "manifest.json").read_text("utf-8"))
        assert manifest["settings"]["embed"]["backend"] == "openai"
        embed = manifest["settings"]["embed"]
        assert embed["model"] == "fake-embed" and embed["dim"] == 64

        # A second index of the same texts costs no embedding call: the cache answers.
        before = len(fake.embedded)
        again = index_paths([SAMPLES], replace(settings, index_dir=tmp_path / "second"))
        assert again.ok and len(fake.embedded) == before

        with Engine(settings) as engine:
            assert "fake-embed embeddings" in engine.mode_label
            hits = engine.search("Putin Erdogan phone call Idlib", k=5)
        assert any(h.dense_rank is not None for h in hits)
        assert hits[0].chunk.lang == "en"


def test_model_and_hashed_indexes_have_different_fingerprints(tmp_path: Path) -> None:
    hashed = Settings()
    model = replace(hashed, embed=EmbedSettings(backend="openai", model="m1"))
    other = replace(hashed, embed=EmbedSettings(backend="openai", model="m2"))
    batch = replace(hashed, embed=EmbedSettings(backend="openai", model="m1", batch_size=7))
    assert len({hashed.fingerprint(), model.fingerprint(), other.fingerprint()}) == 3
    assert model.fingerprint() == batch.fingerprint()  # batch size does not shape vectors


def test_translations_join_the_fusion_with_their_vectors(tmp_path: Path) -> None:
    """With model embeddings and translation on, each translation is embedded and searched."""

    def translate(messages: list[dict[str, Any]]) -> str:
        return json.dumps({"fa": "پوتین و اردوغان درباره ادلب", "ar": "بوتين وأردوغان وإدلب"})

    with serve(translate) as fake:
        settings = _model_settings(tmp_path, fake.base_url)
        assert index_paths([SAMPLES], settings).ok
        connected = replace(settings, llm=replace(settings.llm, translate=True, answers=False))
        with Engine(connected) as engine:
            fake.embedded.clear()
            answer = engine.ask("What did Putin and Erdogan say about Idlib?")
        assert "پوتین و اردوغان درباره ادلب" in fake.embedded
        assert "بوتين وأردوغان وإدلب" in fake.embedded
        assert {c.lang for c in answer.citations} >= {"en"}
        assert not answer.warnings


def test_failing_endpoint_leaves_the_index_as_it_was(tmp_path: Path) -> None:
    with serve(_no_chat) as fake:
        settings = _model_settings(tmp_path, fake.base_url)
        first = tmp_path / "first"
        first.mkdir()
        (first / "a.txt").write_text("Putin and Erdogan spoke by phone about Idlib.", "utf-8")
        assert index_paths([first], settings).ok
        manifest = (settings.index_dir / "manifest.json").read_text("utf-8")
        fake.fail_with = 500
        second = tmp_path / "second"
        second.mkdir()
        # texts no earlier test embedded (the cache would answer for those)
        (second / "b.txt").write_text("Lavrov met Fidan in Ankara on 3 May 2031.", "utf-8")
        (second / "c.txt").write_text("لاوروف و فیدان در آنکارا دیدار کردند.", "utf-8")
        with pytest.raises(ModelError) as err:
            index_paths([first, second], settings)
        assert "fake-embed" in str(err.value) and "OPENAI_BASE_URL" in str(err.value)
        assert (settings.index_dir / "manifest.json").read_text("utf-8") == manifest
        fake.fail_with = None
        with Engine(settings) as engine:
            assert [d.doc_id for d in engine.reader.documents()] == ["a.txt"]


def test_question_embedding_failure_is_a_warning_not_a_crash(tmp_path: Path) -> None:
    with serve(_no_chat) as fake:
        settings = _model_settings(tmp_path, fake.base_url)
        assert index_paths([SAMPLES], settings).ok
        with Engine(settings) as engine:
            fake.fail_with = 503
            answer = engine.ask("How many Turkish soldiers were killed in Idlib this week?")
    assert any("dense search skipped" in w for w in answer.warnings)
    assert not answer.abstained  # BM25 and the cross-lingual leg still answer


def test_openai_backend_needs_an_endpoint() -> None:
    with pytest.raises(ConfigError, match="OPENAI_BASE_URL"):
        make_embedding(EmbedSettings(backend="openai"), LLMSettings())


def test_local_backend_says_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        LocalEmbedding(str(tmp_path / "no-model"))
    with pytest.raises(ConfigError, match="MANBA_EMBED__MODEL"):
        EmbedSettings(backend="local")
    with pytest.raises(ConfigError, match="hashed, openai or local"):
        EmbedSettings(backend="word2vec")


def test_cache_round_trip(tmp_path: Path) -> None:
    import numpy as np

    cache = EmbeddingCache(tmp_path / "c.sqlite3")
    vec = np.arange(4, dtype=np.float32)
    cache.put_many({"k1": vec})
    got = cache.get_many(["k1", "k2"])
    assert list(got) == ["k1"] and got["k1"].tolist() == vec.tolist()


def test_doctor_reports_each_check(
    runner: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rag.cli import main

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    offline = runner.invoke(main, ["doctor", "--index", str(tmp_path / "i")])
    assert offline.exit_code == 0 and "offline" in offline.output

    with serve(lambda m: "OK", model="fake-chat") as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("MANBA_LLM__MODEL", "fake-chat")
        monkeypatch.setenv("MANBA_EMBED__BACKEND", "openai")
        monkeypatch.setenv("MANBA_EMBED__MODEL", "fake-embed")
        result = runner.invoke(main, ["doctor", "--json", "--index", str(tmp_path / "i")])
        assert result.exit_code == 0, result.output
        checks = {c["check"]: c for c in json.loads(result.output)}
        assert checks["endpoint"]["status"] == "ok"
        assert checks["chat fake-chat"]["status"] == "ok"
        assert checks["embeddings fake-embed"]["detail"] == "dimension 64"
        assert checks["model fake-embed"]["status"] == "warn"  # not in the listed models
        fake.fail_with = 401
        refused = runner.invoke(main, ["doctor", "--index", str(tmp_path / "i")])
    assert refused.exit_code == 1
    assert "fail" in refused.output


def test_doctor_says_when_nothing_answers(runner: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.cli import main

    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # discard port: closed
    monkeypatch.setenv("MANBA_LLM__TIMEOUT", "2")
    result = runner.invoke(main, ["doctor"])
    assert result.exit_code == 1
    assert "does not answer" in result.output
