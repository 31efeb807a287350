"""Settings: every bad value is a ConfigError naming its MANBA_ variable; no unknown names."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.config import (
    AnswerSettings,
    RetrievalSettings,
    Settings,
    StoreSettings,
    env_names,
    from_env,
    parse_chroma_url,
)
from rag.errors import ConfigError


def test_defaults_are_valid() -> None:
    assert from_env({}) == Settings()


def test_good_values_are_read() -> None:
    settings = from_env(
        {
            "MANBA_INDEX_DIR": "/tmp/somewhere",
            "MANBA_RETRIEVAL__MODE": "bm25",
            "MANBA_RETRIEVAL__FUSION": "rrf",
            "MANBA_RETRIEVAL__DENSE_WEIGHT": "1",
            "MANBA_RETRIEVAL__RERANK_DEPTH": "0",
            "MANBA_RETRIEVAL__K": "۷",  # Persian digit seven: int() reads it
            "MANBA_ANSWER__REDUNDANCY": "1",
            "MANBA_ANSWER__MIN_COVERAGE": "0",
        }
    )
    assert settings.retrieval.mode == "bm25" and settings.retrieval.fusion == "rrf"
    assert settings.retrieval.k == 7 and settings.retrieval.rerank_depth == 0
    assert settings.answer.redundancy == 1.0 and settings.answer.min_coverage == 0.0


@pytest.mark.parametrize(
    ("var", "value", "allowed"),
    [
        ("MANBA_RETRIEVAL__MODE", "fuzzy", "hybrid, bm25, dense"),
        ("MANBA_RETRIEVAL__MODE", "هجين", "hybrid, bm25, dense"),  # Arabic: "hybrid"
        ("MANBA_RETRIEVAL__MODE", "HYBRID", "hybrid, bm25, dense"),
        ("MANBA_RETRIEVAL__FUSION", "ترکیبی", "score, rrf"),  # Persian: "combined"
        ("MANBA_RETRIEVAL__FUSION", "max", "score, rrf"),
        ("MANBA_RETRIEVAL__DENSE_BACKEND", "hnsw", "exact, chroma"),
        ("MANBA_RETRIEVAL__DENSE_WEIGHT", "1.5", "0 to 1"),
        ("MANBA_RETRIEVAL__DENSE_WEIGHT", "-0.1", "0 to 1"),
        ("MANBA_RETRIEVAL__DENSE_WEIGHT", "nan", "0 to 1"),
        ("MANBA_RETRIEVAL__K", "0", "1 or more"),
        ("MANBA_RETRIEVAL__K", "۰", "1 or more"),  # Persian zero
        ("MANBA_RETRIEVAL__K", "-3", "1 or more"),
        ("MANBA_RETRIEVAL__CANDIDATES", "0", "1 or more"),
        ("MANBA_RETRIEVAL__RERANK_DEPTH", "-1", "0 or more"),
        ("MANBA_RETRIEVAL__SENTENCE_WEIGHT", "-0.5", "0 or more"),
        ("MANBA_RETRIEVAL__SENTENCE_WEIGHT", "inf", "0 or more"),
        ("MANBA_RETRIEVAL__BM25_K1", "0", "above 0"),
        ("MANBA_RETRIEVAL__BM25_K1", "-1", "above 0"),
        ("MANBA_RETRIEVAL__BM25_B", "1.2", "0 to 1"),
        ("MANBA_RETRIEVAL__BM25_B", "-0.2", "0 to 1"),
        ("MANBA_ANSWER__MAX_SENTENCES", "0", "1 or more"),
        ("MANBA_ANSWER__MIN_COVERAGE", "1.01", "0 to 1"),
        ("MANBA_ANSWER__MIN_COVERAGE", "-0.01", "0 to 1"),
        ("MANBA_ANSWER__REDUNDANCY", "0", "above 0 and at most 1"),
        ("MANBA_ANSWER__REDUNDANCY", "1.5", "above 0 and at most 1"),
        ("MANBA_STORE__CHROMA_URL", "localhost:8000", "http://127.0.0.1:8000"),
        ("MANBA_STORE__CHROMA_URL", "ftp://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("MANBA_STORE__CHROMA_URL", "http://127.0.0.1:80000", "http://127.0.0.1:8000"),
        ("MANBA_STORE__CHROMA_URL", "http://127.0.0.1:8000/api/v2", "no path"),
        ("MANBA_STORE__CHROMA_URL", "http://:8000", "http://127.0.0.1:8000"),
        ("MANBA_STORE__CHROMA_COLLECTION", "ab", "3-512 characters"),
        ("MANBA_STORE__CHROMA_COLLECTION", "_manba", "starting and ending"),
        ("MANBA_STORE__CHROMA_COLLECTION", "manba..fa", "no '..'"),
        ("MANBA_STORE__CHROMA_COLLECTION", "منبع_fa", "a-z A-Z 0-9"),  # Persian: "source"
        ("MANBA_STORE__CHROMA_COLLECTION", "مصدر-ar", "a-z A-Z 0-9"),  # Arabic: "source"
        ("MANBA_STORE__CHROMA_COLLECTION", "10.0.0.1", "not an IP address"),
        ("MANBA_STORE__CHROMA_TOKEN", "two words", "no spaces"),
    ],
)
def test_bad_value_names_the_variable(var: str, value: str, allowed: str) -> None:
    with pytest.raises(ConfigError) as exc:
        from_env({var: value})
    message = str(exc.value)
    assert var in message, message
    assert allowed in message, message


@pytest.mark.parametrize(
    ("build", "var"),
    [
        (lambda: RetrievalSettings(mode="sparse"), "MANBA_RETRIEVAL__MODE"),
        (lambda: RetrievalSettings(k=0), "MANBA_RETRIEVAL__K"),
        (lambda: AnswerSettings(redundancy=0.0), "MANBA_ANSWER__REDUNDANCY"),
        (lambda: StoreSettings(chroma_url="127.0.0.1:8000"), "MANBA_STORE__CHROMA_URL"),
    ],
)
def test_settings_built_in_code_are_checked_too(build: object, var: str) -> None:
    with pytest.raises(ConfigError, match=var):
        build()  # type: ignore[operator]


@pytest.mark.parametrize(
    "var",
    [
        "MANBA_CHUNK_MAX_TOKENS",  # one underscore where two belong
        "MANBA_INDEX",
        "MANBA_RETRIEVAL__TOP_K",
        "MANBA_ANSWER__",
    ],
)
def test_unknown_variable_lists_the_valid_names(var: str) -> None:
    with pytest.raises(ConfigError) as exc:
        from_env({var: "1", "MANBA_INDEX_DIR": "index"})
    message = str(exc.value)
    assert var in message
    assert "MANBA_CHUNK__MAX_TOKENS" in message and "MANBA_INDEX_DIR" in message


def test_other_variables_are_ignored() -> None:
    assert from_env({"PATH": "/bin", "MANBAX": "1", "HOME": "/root"}) == Settings()


def test_env_names_cover_every_setting() -> None:
    names = env_names()
    assert "MANBA_INDEX_DIR" in names and "MANBA_RETRIEVAL__BM25_B" in names
    assert len(names) == len(set(names))
    # Each name is a field of Settings (no name listed that does nothing).
    for name in names:
        value: object = Settings()
        for part in name.removeprefix("MANBA_").lower().split("__"):
            value = getattr(value, part)


def test_store_settings_are_read() -> None:
    settings = from_env(
        {
            "MANBA_STORE__CHROMA_URL": "https://chroma.example.org",
            "MANBA_STORE__CHROMA_COLLECTION": "news.fa-ar_2024",
            "MANBA_STORE__CHROMA_TOKEN": "s3cret!",
        }
    )
    assert settings.store.chroma_url == "https://chroma.example.org"
    assert parse_chroma_url(settings.store.chroma_url) == ("chroma.example.org", 443, True)
    assert parse_chroma_url("http://127.0.0.1") == ("127.0.0.1", 8000, False)  # chroma run's
    assert settings.store.chroma_collection == "news.fa-ar_2024"
    assert "s3cret" not in repr(settings)  # the token is never printed
    assert from_env({}).store.chroma_url == ""  # embedded by default
    assert settings.fingerprint() == Settings().fingerprint()  # where vectors live is no shape


def test_config_file_sets_what_the_environment_does_not(tmp_path: Path) -> None:
    from rag.config import from_env

    path = tmp_path / "manba.toml"
    path.write_text(
        'index_dir = "/tmp/somewhere"\n[llm]\nmodel = "qwen2.5"\nbase_url = '
        '"http://127.0.0.1:11434/v1"\ntranslate = false\n[embed]\nbackend = "openai"\n'
        'model = "nomic-embed-text"\n',
        "utf-8",
    )
    settings = from_env({"MANBA_CONFIG": str(path), "MANBA_LLM__MODEL": "llama3"})
    assert settings.llm.model == "llama3"  # the environment wins
    assert settings.llm.base_url == "http://127.0.0.1:11434/v1" and not settings.llm.translate
    assert settings.embed.model == "nomic-embed-text"
    assert str(settings.index_dir) == "/tmp/somewhere"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[llm]\nmodel = ", "not valid TOML"),
        ("[llm]\nmodle = 'x'\n", "MANBA_LLM__MODLE"),
        ("[llm]\ntimeout = 'soon'\n", "MANBA_LLM__TIMEOUT"),
    ],
)
def test_bad_config_file_names_the_problem(tmp_path: Path, text: str, message: str) -> None:
    from rag.config import from_env

    path = tmp_path / "manba.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(ConfigError, match=message):
        from_env({"MANBA_CONFIG": str(path)})
    with pytest.raises(ConfigError, match="not a file"):
        from_env({"MANBA_CONFIG": str(tmp_path / "missing.toml")})
