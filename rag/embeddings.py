"""Embedding backends behind llama-index's BaseEmbedding.

The offline default is weight-free: signed feature hashing of character n-grams (with word
boundaries) and whole words of the normalized text, stopwords left out, sublinear counts, unit
length. Character n-grams match across inflection and spelling variants that a stemmer misses,
in any script, with nothing to download.
"""

from __future__ import annotations

import math
import zlib
from collections import defaultdict
from collections.abc import Callable
from functools import lru_cache

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from pydantic import Field, PrivateAttr

from rag.analysis import stopwords, words
from rag.config import EmbedSettings
from rag.errors import ConfigError
from rag.normalize import fold

_WORD_WEIGHT = 2.0
# Document frequencies are counted per hashed feature in a table far larger than the output
# (2^20 slots, 4 MB as float32), so collisions there are rare.
IDF_BUCKETS = 1 << 20


@lru_cache(maxsize=1_000_000)
def _bucket(feature: str, dim: int) -> tuple[int, float, int]:
    """Output slot, sign, and document-frequency slot of a feature."""
    h = zlib.crc32(feature.encode("utf-8"))
    return h % dim, (1.0 if (h >> 31) & 1 else -1.0), h % IDF_BUCKETS


class HashedNgramEmbedding(BaseEmbedding):
    """Weight-free multilingual embedding: hashed character n-grams of normalized words,
    weighted by the index's own n-gram IDF when it has one (no pretrained weights)."""

    dim: int = Field(default=1024, description="Output dimensions.")
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
        df = np.zeros(IDF_BUCKETS, dtype=np.int32)
        for text in texts:
            slots = {_bucket(f, self.dim)[2] for f in self._features(text)}
            df[list(slots)] += 1
        return df

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

    def _features(
        self, text: str, word_weight: Callable[[str], float] | None = None
    ) -> dict[str, float]:
        """Feature counts of ``text``; with ``word_weight``, each word's features count
        that word's weight instead of 1."""
        feats: dict[str, float] = defaultdict(float)
        for word in words(text):
            word = fold(word)
            if word in self._stop or (len(word) < 2 and not word.isdigit()):
                continue
            w = word_weight(word) if word_weight else 1.0
            feats["w:" + word] += w
            padded = f"<{word}>"
            for n in range(self.ngram_min, self.ngram_max + 1):
                for i in range(len(padded) - n + 1):
                    feats[padded[i : i + n]] += w
        return feats

    def vector(self, text: str, word_weight: Callable[[str], float] | None = None) -> np.ndarray:
        """The embedding of ``text`` as a float32 unit vector (zeros when it has no words)."""
        vec = np.zeros(self.dim, dtype=np.float32)
        for feat, tf in self._features(text, word_weight).items():
            idx, sign, slot = _bucket(feat, self.dim)
            # Sublinear counts for documents; a weighted query keeps its weights as they are.
            weight = (1.0 + math.log(tf)) if word_weight is None else tf
            if self._idf is not None:
                weight *= float(self._idf[slot])
            vec[idx] += sign * weight * (_WORD_WEIGHT if feat.startswith("w:") else 1.0)
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm > 0 else vec

    def matrix(self, texts: list[str]) -> np.ndarray:
        """Embeddings of ``texts`` as rows of a float32 matrix."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = self.vector(text)
        return out

    def _get_query_embedding(self, query: str) -> Embedding:
        return self.vector(query).tolist()

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> Embedding:
        return self.vector(text).tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self.matrix(texts).tolist()


def make_embedding(settings: EmbedSettings) -> HashedNgramEmbedding:
    """The embedding backend named in ``settings``."""
    if settings.backend != "hashed":
        raise ConfigError(
            f"embedding backend {settings.backend!r} is not available offline; "
            "use MANBA_EMBED__BACKEND=hashed"
        )
    return HashedNgramEmbedding(
        dim=settings.dim, ngram_min=settings.ngram_min, ngram_max=settings.ngram_max
    )
