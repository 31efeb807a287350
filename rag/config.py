"""Settings: nested, frozen, with defaults and descriptions; built once and passed down."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rag.errors import ConfigError

ENV_PREFIX = "MANBA_"


def _require(ok: bool, var: str, value: object, allowed: str) -> None:
    """ConfigError naming the variable that sets the field, its value and what it takes."""
    if not ok:
        raise ConfigError(f"{ENV_PREFIX}{var}={value!r} is not allowed; use {allowed}")


def _choice(var: str, value: str, choices: tuple[str, ...]) -> None:
    _require(value in choices, var, value, "one of " + ", ".join(choices))


def _unit(var: str, value: float) -> None:
    _require(0 <= value <= 1, var, value, "a number from 0 to 1")


def _non_negative(var: str, value: float) -> None:
    _require(math.isfinite(value) and value >= 0, var, value, "a number of 0 or more")


@dataclass(frozen=True)
class ChunkSettings:
    max_tokens: int = field(default=300, metadata={"help": "Largest chunk, in o200k tokens."})
    overlap_tokens: int = field(default=40, metadata={"help": "Sentence overlap, in tokens."})
    encoding: str = field(default="o200k_base", metadata={"help": "tiktoken encoding."})

    def __post_init__(self) -> None:
        if self.max_tokens < 8:
            raise ConfigError(
                f"chunk max_tokens is {self.max_tokens}; use 8 or more (MANBA_CHUNK__MAX_TOKENS)"
            )
        if not 0 <= self.overlap_tokens < self.max_tokens:
            raise ConfigError(
                f"chunk overlap_tokens ({self.overlap_tokens}) must be at least 0 and smaller "
                f"than max_tokens ({self.max_tokens}); set MANBA_CHUNK__OVERLAP_TOKENS lower"
            )


@dataclass(frozen=True)
class EmbedSettings:
    backend: str = field(
        default="hashed",
        metadata={
            "help": "'hashed' (weight-free, offline), 'openai' (any OpenAI-compatible "
            "embedding endpoint: the LLM settings' base URL and key) or 'local' (a "
            "sentence-transformers model in a folder)."
        },
    )
    model: str = field(
        default="",
        metadata={
            "help": "'openai': the embedding model (default text-embedding-3-small); "
            "'local': the model's folder."
        },
    )
    batch_size: int = field(default=64, metadata={"help": "Texts per embedding request."})
    dim: int = field(
        # 256: at 100k chunks the vectors take 100 MB and an exact search ~3 ms, and Chroma
        # inserts ~1,300/s; 1024 cost 4x that for +0.001-0.02 Recall@5 (README, "Scale").
        default=256,
        metadata={"help": "Dimensions (hashed; a model's own dimension is found at ingest)."},
    )
    ngram_min: int = field(default=3, metadata={"help": "Shortest character n-gram."})
    ngram_max: int = field(default=5, metadata={"help": "Longest character n-gram."})
    idf: bool = field(
        default=True, metadata={"help": "Weight n-grams by the index's own IDF (fitted at ingest)."}
    )
    idf_sample: int = field(
        default=32_768,
        metadata={
            "help": "Chunks the IDF table is fitted on, evenly spread over the index (all of "
            "them when there are fewer): the n-gram statistics settle long before 100k "
            "chunks, and counting them is a pass over every text."
        },
    )

    @property
    def is_model(self) -> bool:
        return self.backend != "hashed"

    def shape(self) -> dict[str, Any]:
        """What of these settings shapes the stored vectors (the index fingerprint): a model's
        name, or the hashed embedding's parameters; never the batch size."""
        if self.is_model:
            return {"backend": self.backend, "model": self.model}
        return {
            "backend": self.backend,
            "dim": self.dim,
            "ngram_min": self.ngram_min,
            "ngram_max": self.ngram_max,
            "idf": self.idf,
        }

    def __post_init__(self) -> None:
        if self.backend not in ("hashed", "openai", "local"):
            raise ConfigError(
                f"embedding backend {self.backend!r} is unknown; set MANBA_EMBED__BACKEND to "
                "hashed, openai or local"
            )
        if self.backend == "openai" and not self.model:
            object.__setattr__(self, "model", "text-embedding-3-small")
        if self.backend == "local" and not self.model:
            raise ConfigError(
                "the local embedding backend needs the model's folder: set MANBA_EMBED__MODEL"
            )
        if self.batch_size < 1:
            raise ConfigError(f"MANBA_EMBED__BATCH_SIZE is {self.batch_size}; use 1 or more")
        if self.idf_sample < 10:
            raise ConfigError(f"MANBA_EMBED__IDF_SAMPLE is {self.idf_sample}; use 10 or more")
        if self.dim < 8 or not 1 <= self.ngram_min <= self.ngram_max:
            raise ConfigError(
                f"embedding dim={self.dim}, ngram_min={self.ngram_min}, ngram_max="
                f"{self.ngram_max}: need dim >= 8 and 1 <= ngram_min <= ngram_max"
            )


@dataclass(frozen=True)
class RetrievalSettings:
    k: int = field(default=5, metadata={"help": "Passages returned."})
    candidates: int = field(default=100, metadata={"help": "Passages each leg proposes."})
    mode: str = field(
        default="hybrid", metadata={"help": "'hybrid', 'bm25', 'dense' or 'xling' (one leg)."}
    )
    dense_weight: float = field(default=0.3, metadata={"help": "Weight of the dense leg."})
    xling_weight: float = field(
        default=0.5, metadata={"help": "Weight of the cross-lingual leg (0 turns it off)."}
    )
    other_lang_factor: float = field(
        default=0.2,
        metadata={
            "help": "In hybrid mode, the BM25 and dense scores of passages in another language "
            "than the question (a Persian word in Arabic text) are multiplied by this: the "
            "cross-lingual leg carries evidence across languages."
        },
    )
    xling_same_lang: float = field(
        default=0.25,
        metadata={
            "help": "The cross-lingual leg's scores of passages in the question's own language "
            "are multiplied by this (BM25 already matches their words)."
        },
    )
    xling_parts: str = field(
        default="concepts,names,numbers",
        metadata={"help": "Cross-lingual evidence used: concepts, names, numbers (comma list)."},
    )
    fusion: str = field(
        default="score", metadata={"help": "'score' (normalized scores) or 'rrf' (ranks)."}
    )
    rrf_k: int = field(default=60, metadata={"help": "Reciprocal-rank-fusion constant."})
    dense_backend: str = field(
        default="exact", metadata={"help": "'exact' numpy search or 'chroma' HNSW."}
    )
    sentence_weight: float = field(
        default=0.6, metadata={"help": "Weight of the best sentence's coverage in re-ranking."}
    )
    xling_length_prior: float = field(
        default=0.2,
        metadata={
            "help": "Cross-lingual leg's scores times (mean passage length / length) to this "
            "power: long passages collect chance matches of common concepts."
        },
    )
    rerank_depth: int = field(default=30, metadata={"help": "Passages re-ranked by sentence."})
    lang_diversity: float = field(
        default=0.3,
        metadata={
            "help": "A language missing from the top k gets its best passage in when it scores "
            "at least this share of the best passage's score (0 turns it off)."
        },
    )
    dense_min_score: float = field(
        default=0.08,
        metadata={"help": "Cosine below which a dense match is noise (hash collisions)."},
    )
    bm25_k1: float = field(default=0.9, metadata={"help": "BM25 term saturation."})
    bm25_b: float = field(default=0.4, metadata={"help": "BM25 length normalization."})

    def __post_init__(self) -> None:
        v = "RETRIEVAL__"
        _choice(v + "MODE", self.mode, ("hybrid", "bm25", "dense", "xling"))
        for part in (p for p in self.xling_parts.split(",") if p):
            _choice(v + "XLING_PARTS", part, ("concepts", "names", "numbers"))
        _non_negative(v + "XLING_WEIGHT", self.xling_weight)
        _require(
            0 <= self.xling_length_prior <= 1,
            v + "XLING_LENGTH_PRIOR",
            self.xling_length_prior,
            "0 to 1",
        )
        _choice(v + "FUSION", self.fusion, ("score", "rrf"))
        _choice(v + "DENSE_BACKEND", self.dense_backend, ("exact", "chroma"))
        _unit(v + "DENSE_WEIGHT", self.dense_weight)
        _unit(v + "DENSE_MIN_SCORE", self.dense_min_score)
        _require(self.k >= 1, v + "K", self.k, "a whole number of 1 or more")
        _require(self.candidates >= 1, v + "CANDIDATES", self.candidates, "1 or more")
        _require(self.rrf_k >= 0, v + "RRF_K", self.rrf_k, "0 or more")
        _require(self.rerank_depth >= 0, v + "RERANK_DEPTH", self.rerank_depth, "0 or more")
        _non_negative(v + "SENTENCE_WEIGHT", self.sentence_weight)
        _require(
            math.isfinite(self.bm25_k1) and self.bm25_k1 > 0,
            v + "BM25_K1",
            self.bm25_k1,
            "a number above 0 (BM25 usually takes 0.5 to 2)",
        )
        _unit(v + "BM25_B", self.bm25_b)
        _unit(v + "LANG_DIVERSITY", self.lang_diversity)
        _unit(v + "OTHER_LANG_FACTOR", self.other_lang_factor)
        _unit(v + "XLING_SAME_LANG", self.xling_same_lang)


@dataclass(frozen=True)
class AnswerSettings:
    max_sentences: int = field(default=4, metadata={"help": "Most sentences in an answer."})
    min_coverage: float = field(
        default=0.34, metadata={"help": "Share of question weight a sentence must cover."}
    )
    relative_coverage: float = field(
        default=0.7,
        metadata={
            "help": "A sentence must also cover this share of what the best sentence covers."
        },
    )
    redundancy: float = field(
        default=0.6, metadata={"help": "Token overlap above which a sentence is a repeat."}
    )
    other_languages: int = field(
        default=2,
        metadata={
            "help": "Extra sentences allowed so that languages the best sentences miss are "
            "heard too (each still needs min_coverage); 0 turns it off."
        },
    )

    def __post_init__(self) -> None:
        v = "ANSWER__"
        _require(self.max_sentences >= 1, v + "MAX_SENTENCES", self.max_sentences, "1 or more")
        _unit(v + "MIN_COVERAGE", self.min_coverage)
        _unit(v + "RELATIVE_COVERAGE", self.relative_coverage)
        _require(
            self.other_languages >= 0, v + "OTHER_LANGUAGES", self.other_languages, "0 or more"
        )
        _require(
            0 < self.redundancy <= 1,
            v + "REDUNDANCY",
            self.redundancy,
            "a number above 0 and at most 1",
        )


@dataclass(frozen=True)
class LLMSettings:
    """An OpenAI-compatible model (OpenAI, Azure's v1 endpoint, Ollama, vLLM, LM Studio).

    Connected when a base URL or an API key is set (MANBA_LLM__* or OPENAI_BASE_URL /
    OPENAI_API_KEY); otherwise Manba stays offline and never opens a connection."""

    base_url: str = field(
        default="", metadata={"help": "Endpoint, e.g. http://localhost:11434/v1."}
    )
    api_key: str = field(default="", repr=False, metadata={"help": "API key (or OPENAI_API_KEY)."})
    model: str = field(default="gpt-4o-mini", metadata={"help": "Chat model name."})
    timeout: float = field(default=30.0, metadata={"help": "Seconds before a request fails."})
    max_retries: int = field(default=2, metadata={"help": "Retries of a failed request."})
    translate: bool = field(
        default=True,
        metadata={"help": "Translate questions into the corpus languages for retrieval."},
    )
    translation_weight: float = field(
        default=0.5, metadata={"help": "Weight of each translated question's lexical leg."}
    )
    answers: bool = field(
        default=True, metadata={"help": "The model writes the answers (else: extractive)."}
    )
    answer_lang: str = field(
        default="", metadata={"help": "Language of answers: fa, ar, en (default: the question's)."}
    )
    context_tokens: int = field(
        default=8000, metadata={"help": "Tokens of the model's context Manba may fill."}
    )
    answer_tokens: int = field(default=700, metadata={"help": "Most tokens of a written answer."})
    temperature: float = field(default=0.0, metadata={"help": "Sampling temperature."})

    @property
    def connected(self) -> bool:
        return bool(self.base_url or self.api_key)

    def __post_init__(self) -> None:
        v = "LLM__"
        _require(
            math.isfinite(self.timeout) and self.timeout > 0, v + "TIMEOUT", self.timeout, "> 0"
        )
        _require(self.max_retries >= 0, v + "MAX_RETRIES", self.max_retries, "0 or more")
        _non_negative(v + "TRANSLATION_WEIGHT", self.translation_weight)
        _require(
            self.answer_lang in ("", "fa", "ar", "en"),
            v + "ANSWER_LANG",
            self.answer_lang,
            "fa, ar, en or empty",
        )
        _require(
            self.context_tokens >= self.answer_tokens + 500,
            v + "CONTEXT_TOKENS",
            self.context_tokens,
            "at least MANBA_LLM__ANSWER_TOKENS + 500",
        )
        _require(self.answer_tokens >= 50, v + "ANSWER_TOKENS", self.answer_tokens, "50 or more")
        _require(0 <= self.temperature <= 2, v + "TEMPERATURE", self.temperature, "0 to 2")
        _require(
            not self.base_url or self.base_url.startswith(("http://", "https://")),
            v + "BASE_URL",
            self.base_url,
            "an http:// or https:// URL",
        )


@dataclass(frozen=True)
class UploadSettings:
    max_mb: int = field(
        default=20,
        metadata={
            "help": "Largest file the app's library page accepts, in MB (MiB); keep "
            "server.maxUploadSize in .streamlit/config.toml at least this high."
        },
    )

    def __post_init__(self) -> None:
        _require(1 <= self.max_mb <= 10_000, "UPLOAD__MAX_MB", self.max_mb, "1 to 10000")


@dataclass(frozen=True)
class IngestSettings:
    max_mb: int = field(
        default=50,
        metadata={
            "help": "Largest file `manba ingest` (and an upload) reads, in MB (MiB): checked "
            "from the file's size before reading it. A larger file is reported, not read. In a "
            "JSONL corpus the limit is each row's (one document), not the file's."
        },
    )

    def __post_init__(self) -> None:
        _require(1 <= self.max_mb <= 100_000, "INGEST__MAX_MB", self.max_mb, "1 to 100000")


_COLLECTION_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9._-]{1,510}[a-zA-Z0-9]")


def parse_chroma_url(url: str) -> tuple[str, int, bool]:
    """(host, port, ssl) of a Chroma server URL such as ``http://127.0.0.1:8000``; the port
    defaults to 8000 (``chroma run``'s) for http and 443 for https. ConfigError otherwise."""
    allowed = (
        "a Chroma server's address like http://127.0.0.1:8000 (scheme, host and port; no "
        "path), or nothing for the embedded store in the index folder"
    )
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number from 0 to 65535
    except ValueError as exc:
        raise ConfigError(
            f"{ENV_PREFIX}STORE__CHROMA_URL={url!r} is not allowed; use {allowed}"
        ) from exc
    host = parts.hostname or ""
    _require(
        parts.scheme in ("http", "https")
        and bool(host)
        and parts.path in ("", "/")
        and not (parts.query or parts.fragment or parts.username or parts.password),
        "STORE__CHROMA_URL",
        url,
        allowed,
    )
    ssl = parts.scheme == "https"
    return host, port or (443 if ssl else 8000), ssl


@dataclass(frozen=True)
class StoreSettings:
    """Where the vectors live: Chroma embedded in the index folder (the default) or a Chroma
    server. SQLite (the source of truth), BM25 and ``vectors.npy`` stay in the index folder
    either way; only the Chroma collection moves."""

    chroma_url: str = field(
        default="",
        metadata={
            "help": "A Chroma server (`chroma run`), e.g. http://127.0.0.1:8000; empty: an "
            "embedded Chroma in the index folder."
        },
    )
    chroma_collection: str = field(
        default="",
        metadata={
            "help": "The collection's name (3-512 of a-z A-Z 0-9 . _ -). Empty: 'manba_chunks' "
            "embedded; on a server 'manba_' plus a hash of the index folder's path, so several "
            "indexes can share one server. Set it when machines with different paths share "
            "one index's vectors."
        },
    )
    chroma_token: str = field(
        default="",
        repr=False,
        metadata={"help": "Token sent to the server as the X-Chroma-Token header (optional)."},
    )
    hnsw_ef_construction: int = field(
        default=100,
        metadata={
            "help": "HNSW build effort of a new collection: higher finds more neighbours of "
            "hashed vectors but inserts slower (400 halves Chroma's insert rate)."
        },
    )
    hnsw_max_neighbors: int = field(
        default=16, metadata={"help": "HNSW links per vector of a new collection."}
    )
    hnsw_ef_search: int = field(
        default=500, metadata={"help": "HNSW search effort (dense_backend 'chroma')."}
    )

    def __post_init__(self) -> None:
        v = "STORE__"
        if self.chroma_url:
            parse_chroma_url(self.chroma_url)
        name = self.chroma_collection
        if name:
            _require(
                bool(_COLLECTION_NAME.fullmatch(name)) and ".." not in name,
                v + "CHROMA_COLLECTION",
                name,
                "3-512 characters of a-z A-Z 0-9 . _ -, starting and ending with a letter or "
                "digit, with no '..' (Chroma's rules)",
            )
            _require(
                not re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", name),
                v + "CHROMA_COLLECTION",
                name,
                "a name that is not an IP address (Chroma's rules)",
            )
        for name_, value in (
            ("HNSW_EF_CONSTRUCTION", self.hnsw_ef_construction),
            ("HNSW_MAX_NEIGHBORS", self.hnsw_max_neighbors),
            ("HNSW_EF_SEARCH", self.hnsw_ef_search),
        ):
            _require(2 <= value <= 10_000, v + name_, str(value), "a whole number from 2 to 10000")
        _require(
            all(33 <= ord(c) <= 126 for c in self.chroma_token),
            v + "CHROMA_TOKEN",
            "***",
            "ASCII letters, digits and punctuation (no spaces)",
        )


@dataclass(frozen=True)
class Settings:
    index_dir: Path = field(default=Path("index"), metadata={"help": "Index folder."})
    chunk: ChunkSettings = field(default_factory=ChunkSettings)
    embed: EmbedSettings = field(default_factory=EmbedSettings)
    retrieval: RetrievalSettings = field(default_factory=RetrievalSettings)
    answer: AnswerSettings = field(default_factory=AnswerSettings)
    llm: LLMSettings = field(default_factory=LLMSettings)
    upload: UploadSettings = field(default_factory=UploadSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    store: StoreSettings = field(default_factory=StoreSettings)

    def fingerprint(self) -> str:
        """Hash of everything that shapes the stored index (chunking, embedding, analyzer,
        BM25 parameters, which bm25s bakes into its index)."""
        from rag import __version__, crossling
        from rag.analysis import ANALYZER_VERSION

        shaping: dict[str, Any] = {
            "chunk": asdict(self.chunk),
            "embed": self.embed.shape(),
            "bm25": [self.retrieval.bm25_k1, self.retrieval.bm25_b],
            "analyzer": ANALYZER_VERSION,
            "lexicon": crossling.version(),
            "format": __version__.split(".")[0],
        }
        blob = json.dumps(shaping, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def with_index(self, index_dir: str | Path) -> Settings:
        return replace(self, index_dir=Path(index_dir))


def _coerce(value: str, current: Any, name: str) -> Any:
    try:
        if isinstance(current, bool):
            return value.lower() in ("1", "true", "yes", "on")
        if isinstance(current, int):
            return int(value)
        if isinstance(current, float):
            return float(value)
        if isinstance(current, Path):
            return Path(value)
    except ValueError as exc:
        raise ConfigError(f"{name}={value!r} is not a valid {type(current).__name__}") from exc
    return value


def env_names() -> list[str]:
    """Every MANBA_* variable Manba reads, one per setting, in declaration order."""
    names = []
    defaults = Settings()
    for f in fields(defaults):
        value = getattr(defaults, f.name)
        if hasattr(value, "__dataclass_fields__"):
            names += [f"{ENV_PREFIX}{f.name}__{g.name}".upper() for g in fields(value)]
        else:
            names.append(f"{ENV_PREFIX}{f.name}".upper())
    return names


CONFIG_FILE = "manba.toml"


def config_file_values(env: Mapping[str, str]) -> dict[str, str]:
    """Settings from a TOML file as MANBA_* names: ``$MANBA_CONFIG``, else ``./manba.toml``
    when it exists. Sections are the nested settings (``[llm] model = "qwen2.5"`` is
    MANBA_LLM__MODEL); top-level keys are top-level settings (``index_dir``)."""
    import tomllib

    named = env.get("MANBA_CONFIG", "")
    path = Path(named) if named else Path(CONFIG_FILE)
    if not path.is_file():
        if named:
            raise ConfigError(f"MANBA_CONFIG names {named}, which is not a file")
        return {}
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc}); fix or remove it") from exc
    out: dict[str, str] = {}

    def text(value: Any) -> str:
        return str(value).lower() if isinstance(value, bool) else str(value)

    for key, value in data.items():
        if isinstance(value, dict):
            for sub, inner in value.items():
                out[f"{ENV_PREFIX}{key}__{sub}".upper()] = text(inner)
        else:
            out[f"{ENV_PREFIX}{key}".upper()] = text(value)
    return out


def from_env(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from MANBA_* variables: MANBA_INDEX_DIR, MANBA_CHUNK__MAX_TOKENS, ... and
    from a config file (``config_file_values``), which the variables override.

    Every MANBA_* variable must name a setting: a misspelt one (MANBA_CHUNK_MAX_TOKENS) is a
    ConfigError listing the valid names, not a setting silently left at its default.
    """
    env = dict(os.environ if env is None else env)
    env = {**config_file_values(env), **env}  # the environment wins over the file
    known = [*env_names(), "MANBA_CONFIG"]
    unknown = sorted(k for k in env if k.upper().startswith(ENV_PREFIX) and k not in known)
    if unknown:
        raise ConfigError(
            f"unknown setting {', '.join(unknown)}; Manba reads {', '.join(known)} "
            "(nested settings take two underscores, e.g. MANBA_CHUNK__MAX_TOKENS)"
        )
    settings = Settings()
    top: dict[str, Any] = {}
    for f in fields(settings):
        value = getattr(settings, f.name)
        if hasattr(value, "__dataclass_fields__"):
            nested = {}
            for g in fields(value):
                key = f"{ENV_PREFIX}{f.name}__{g.name}".upper()
                if key in env:
                    nested[g.name] = _coerce(env[key], getattr(value, g.name), key)
            if nested:
                top[f.name] = replace(value, **nested)
        else:
            key = f"{ENV_PREFIX}{f.name}".upper()
            if key in env:
                top[f.name] = _coerce(env[key], value, key)
    settings = replace(settings, **top)
    # The OpenAI client's own variables configure the model unless MANBA_LLM__* says otherwise.
    llm = settings.llm
    base_url = llm.base_url or env.get("OPENAI_BASE_URL", "")
    api_key = llm.api_key or env.get("OPENAI_API_KEY", "")
    return replace(settings, llm=replace(llm, base_url=base_url, api_key=api_key))
