"""Embedding backends behind llama-index's BaseEmbedding.

Three backends share one small interface (``vector``, ``matrix``, ``set_idf``):

- ``hashed`` (the offline default, below);
- ``openai``: any OpenAI-compatible embedding endpoint (OpenAI's text-embedding-3-small, Azure,
  Ollama, vLLM), batched, retried by the ``openai`` client, cached on disk by content hash;
- ``local``: a sentence-transformers model from a folder on disk (e.g. a multilingual E5 the
  user downloaded), loaded with no network access.

The hashed default is weight-free: signed feature hashing of character n-grams (with word
boundaries) and whole words of the normalized text, stopwords left out, sublinear counts, unit
length. Character n-grams match across inflection and spelling variants that a stemmer misses,
in any script, with nothing to download.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import zlib
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from pydantic import Field, PrivateAttr

from rag.analysis import stopwords, words
from rag.config import EmbedSettings, LLMSettings
from rag.errors import ConfigError, ModelError
from rag.normalize import fold

_WORD_WEIGHT = 2.0
# Document frequencies are counted per hashed feature in a table far larger than the output
# (2^20 slots, 4 MB as float32), so collisions there are rare.
IDF_BUCKETS = 1 << 20


@lru_cache(maxsize=400_000)
def _word_grams(word: str, ngram_min: int, ngram_max: int) -> np.ndarray:
    """CRC32 of each character n-gram of ``<word>`` (repeats kept), computed once per word:
    news vocabulary is Zipfian, so nearly every word of a new text was seen before."""
    padded = f"<{word}>"
    return np.fromiter(
        (
            zlib.crc32(padded[i : i + n].encode("utf-8"))
            for n in range(ngram_min, ngram_max + 1)
            for i in range(len(padded) - n + 1)
        ),
        dtype=np.uint32,
    )


@lru_cache(maxsize=400_000)
def _word_hash(word: str) -> int:
    return zlib.crc32(("w:" + word).encode("utf-8"))


class _VectorsAsEmbedding:
    """llama-index's BaseEmbedding methods from a backend's ``vector`` and ``matrix``."""

    def vector(self, text: str) -> np.ndarray:
        raise NotImplementedError

    def matrix(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def _get_query_embedding(self, query: str) -> Embedding:
        return self.vector(query).tolist()

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> Embedding:
        return self.vector(text).tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self.matrix(texts).tolist()


class HashedNgramEmbedding(_VectorsAsEmbedding, BaseEmbedding):
    """Weight-free multilingual embedding: hashed character n-grams of normalized words,
    weighted by the index's own n-gram IDF when it has one (no pretrained weights)."""

    dim: int = Field(default=256, description="Output dimensions.")
    ngram_min: int = Field(default=3, description="Shortest character n-gram.")
    ngram_max: int = Field(default=5, description="Longest character n-gram.")
    _stop: frozenset[str] = PrivateAttr(default_factory=frozenset)
    _idf: np.ndarray | None = PrivateAttr(default=None)

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("model_name", "manba-hashed-ngram-v1")
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._stop = stopwords("fa") | stopwords("ar") | stopwords("en")

    @classmethod
    def class_name(cls) -> str:
        return "HashedNgramEmbedding"

    # --- corpus statistics ---------------------------------------------------------------
    def document_frequencies(self, texts: list[str]) -> np.ndarray:
        """How many of ``texts`` contain each feature slot (int32, IDF_BUCKETS long)."""
        df = np.zeros(IDF_BUCKETS, dtype=np.int64)
        slots: list[np.ndarray] = []
        for text in texts:
            grams, words_, _, _ = self._hashed(text)
            slots.append(np.unique(np.concatenate((grams, words_)) % IDF_BUCKETS))
            if len(slots) >= 2000:  # bounded memory on a large corpus
                df += np.bincount(np.concatenate(slots), minlength=IDF_BUCKETS)
                slots = []
        if slots:
            df += np.bincount(np.concatenate(slots), minlength=IDF_BUCKETS)
        return df.astype(np.int32)

    @staticmethod
    def idf_table(df: np.ndarray, n_texts: int) -> np.ndarray:
        """IDF weights from document frequencies: log(1 + N / (df + 1)), float32."""
        return np.log1p(n_texts / (df.astype(np.float64) + 1.0)).astype(np.float32)

    def set_idf(self, table: np.ndarray | None) -> None:
        """Weight features by a corpus IDF table (None: unweighted). Documents and queries of
        one index must be embedded with the same table; the index stores it."""
        if table is not None and table.shape != (IDF_BUCKETS,):
            raise ValueError(f"an IDF table has {IDF_BUCKETS} slots, not {table.shape}")
        self._idf = table

    def _hashed(
        self, text: str, word_weight: Callable[[str], float] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Distinct hashed features of ``text``: (n-gram hashes, word hashes, and the count
        of each). With ``word_weight``, each word's features count that word's weight
        instead of 1. Stopwords and one-letter words (digits excepted) have no features."""
        # Fields read once: pydantic attribute access is slow.
        stop, nmin, nmax = self._stop, self.ngram_min, self.ngram_max
        counts: dict[str, float] = {}
        # One fold over the joined words instead of one call per word (a per-letter map).
        for word in fold("\n".join(words(text))).split("\n"):
            if word in stop or (len(word) < 2 and not word.isdigit()):
                continue
            counts[word] = counts.get(word, 0.0) + (word_weight(word) if word_weight else 1.0)
        if not counts:
            empty = np.zeros(0, dtype=np.uint32)
            return empty, empty, np.zeros(0), np.zeros(0)
        vocab = list(counts)
        weights = np.fromiter(counts.values(), dtype=np.float64, count=len(vocab))
        per_word = [_word_grams(w, nmin, nmax) for w in vocab]
        lengths = np.fromiter((len(g) for g in per_word), dtype=np.int64, count=len(vocab))
        grams, inverse = np.unique(np.concatenate(per_word), return_inverse=True)
        gram_tf = np.bincount(inverse, weights=np.repeat(weights, lengths), minlength=len(grams))
        word_hashes = np.fromiter((_word_hash(w) for w in vocab), dtype=np.uint32)
        return grams, word_hashes, gram_tf, weights

    def vector(self, text: str, word_weight: Callable[[str], float] | None = None) -> np.ndarray:
        """The embedding of ``text`` as a float32 unit vector (zeros when it has no words)."""
        dim, idf = self.dim, self._idf  # read once: pydantic attribute access is slow
        grams, word_hashes, gram_tf, word_tf = self._hashed(text, word_weight)
        hashes = np.concatenate((grams, word_hashes))
        tf = np.concatenate((gram_tf, word_tf))
        # Sublinear counts for documents; a weighted query keeps its weights as they are.
        weight = (1.0 + np.log(tf)) if word_weight is None else tf
        if idf is not None:
            weight = weight * idf[hashes % IDF_BUCKETS]
        weight[len(grams) :] *= _WORD_WEIGHT
        sign = np.where((hashes >> 31) & 1, 1.0, -1.0)
        vec = np.bincount(hashes % dim, weights=sign * weight, minlength=dim).astype(np.float32)
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm > 0 else vec

    def matrix(self, texts: list[str]) -> np.ndarray:
        """Embeddings of ``texts`` as rows of a float32 matrix."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = self.vector(text)
        return out


class ModelEmbedding(_VectorsAsEmbedding, BaseEmbedding):
    """A pretrained model's embedding: unit vectors, cached on disk by content hash so that
    re-indexing or a second ingest of the same text costs no model call."""

    batch_size: int = Field(default=64, description="Texts per request.")
    _cache: EmbeddingCache | None = PrivateAttr(default=None)
    _dim: int = PrivateAttr(default=0)

    def set_idf(self, table: np.ndarray | None) -> None:
        """Model embeddings carry no corpus statistics."""

    def dimension(self) -> int:
        """The model's output dimension (one short request the first time)."""
        if not self._dim:
            self._dim = len(self.vector("dimension probe"))
        return self._dim

    def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        raise NotImplementedError

    def matrix(self, texts: list[str]) -> np.ndarray:
        keys = [self._key(t) for t in texts]
        found = self._cache.get_many(keys) if self._cache else {}
        todo = [i for i, k in enumerate(keys) if k not in found]
        for start in range(0, len(todo), self.batch_size):
            batch = todo[start : start + self.batch_size]
            # An empty string is refused by some servers; a space embeds as "nothing".
            rows = self._embed_batch([texts[i] or " " for i in batch])
            if len(rows) != len(batch):
                raise ModelError(
                    f"the embedding model {self.model_name} returned {len(rows)} vectors "
                    f"for {len(batch)} texts"
                )
            new = {}
            for i, row in zip(batch, rows, strict=True):
                vec = np.asarray(row, dtype=np.float32)
                norm = float(np.linalg.norm(vec))
                new[keys[i]] = vec / norm if norm > 0 else vec
            if self._cache:
                self._cache.put_many(new)
            found.update(new)
        if not texts:
            return np.zeros((0, self._dim or 1), dtype=np.float32)
        out = np.stack([found[k] for k in keys]).astype(np.float32)
        self._dim = out.shape[1]
        return out

    def vector(self, text: str, word_weight: Callable[[str], float] | None = None) -> np.ndarray:
        """The embedding of ``text`` (``word_weight`` is for the hashed backend only)."""
        return self.matrix([text])[0]

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.model_name}\0{text}".encode()).hexdigest()


class OpenAIEmbedding(ModelEmbedding):
    """Any OpenAI-compatible ``/embeddings`` endpoint through the ``openai`` client."""

    _client: Any = PrivateAttr(default=None)
    _where: str = PrivateAttr(default="")

    def __init__(self, llm: LLMSettings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        import openai

        self._where = llm.base_url or "api.openai.com"
        self._client = openai.OpenAI(
            base_url=llm.base_url or None,
            api_key=llm.api_key or "not-needed",
            timeout=llm.timeout,
            max_retries=llm.max_retries,
        )
        self._cache = EmbeddingCache.default()

    @classmethod
    def class_name(cls) -> str:
        return "ManbaOpenAIEmbedding"

    def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        import openai

        try:
            response = self._client.embeddings.create(model=self.model_name, input=texts)
        except openai.APIError as exc:
            raise ModelError(
                f"the embedding model {self.model_name} at {self._where} failed: {exc}. Check "
                "OPENAI_BASE_URL / MANBA_LLM__BASE_URL, the key, and MANBA_EMBED__MODEL"
            ) from exc
        return [d.embedding for d in sorted(response.data, key=lambda d: d.index)]


class LocalEmbedding(ModelEmbedding):
    """A sentence-transformers model from a folder on disk, loaded offline."""

    _model: Any = PrivateAttr(default=None)

    def __init__(self, folder: str, **kwargs: Any) -> None:
        kwargs.setdefault("model_name", str(Path(folder).resolve()))
        super().__init__(**kwargs)
        path = Path(folder)
        if not path.is_dir():
            raise ConfigError(
                f"the local embedding model folder {folder} does not exist; set "
                "MANBA_EMBED__MODEL to the folder holding the downloaded model"
            )
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never download at run time
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ConfigError(
                "the local embedding backend needs sentence-transformers (and torch): "
                "pip install sentence-transformers, or use MANBA_EMBED__BACKEND=hashed"
            ) from exc
        try:
            self._model = SentenceTransformer(str(path), device="cpu")
        except Exception as exc:  # the library raises many kinds for a bad folder
            raise ConfigError(
                f"{folder} is not a sentence-transformers model ({type(exc).__name__}: {exc})"
            ) from exc
        self._cache = EmbeddingCache.default()

    @classmethod
    def class_name(cls) -> str:
        return "ManbaLocalEmbedding"

    def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        rows = self._model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True)
        return [list(map(float, r)) for r in rows]


class EmbeddingCache:
    """Vectors by content hash (of model name and text) in one SQLite file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        self._conn.execute("CREATE TABLE IF NOT EXISTS vec (key TEXT PRIMARY KEY, v BLOB)")
        self._conn.commit()

    @classmethod
    def default(cls) -> EmbeddingCache:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return cls(Path(base) / "manba" / "embeddings.sqlite3")

    def get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        with self._lock:
            for start in range(0, len(unique), 500):
                part = unique[start : start + 500]
                marks = ",".join("?" * len(part))
                for key, blob in self._conn.execute(
                    f"SELECT key, v FROM vec WHERE key IN ({marks})", part
                ):
                    out[key] = np.frombuffer(blob, dtype=np.float32)
        return out

    def put_many(self, vectors: dict[str, np.ndarray]) -> None:
        with self._lock:
            self._conn.executemany(
                "INSERT OR REPLACE INTO vec VALUES (?, ?)",
                [(k, v.astype(np.float32).tobytes()) for k, v in vectors.items()],
            )
            self._conn.commit()


Embedder = HashedNgramEmbedding | ModelEmbedding


def make_embedding(settings: EmbedSettings, llm: LLMSettings | None = None) -> Embedder:
    """The embedding backend named in ``settings`` (``llm``: the endpoint, for 'openai')."""
    if settings.backend == "openai":
        llm = llm or LLMSettings()
        if not llm.connected:
            raise ConfigError(
                "the openai embedding backend needs an endpoint: set OPENAI_API_KEY and/or "
                "OPENAI_BASE_URL (or MANBA_LLM__BASE_URL), or use MANBA_EMBED__BACKEND=hashed"
            )
        return OpenAIEmbedding(
            llm,
            model_name=settings.model,
            batch_size=settings.batch_size,
        )
    if settings.backend == "local":
        return LocalEmbedding(settings.model, batch_size=settings.batch_size)
    return HashedNgramEmbedding(
        dim=settings.dim, ngram_min=settings.ngram_min, ngram_max=settings.ngram_max
    )
