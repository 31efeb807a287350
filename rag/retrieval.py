"""Hybrid retrieval: BM25 over the analyzer's tokens and dense search over the embedding,
fused as a convex combination of max-normalized scores (or weighted reciprocal rank), then the
top passages re-ranked by their best sentence, with language, source and date filters.

Dense search is exact (a matrix product) by default: Chroma's HNSW loses recall on hashed
vectors, and exact search over 100k x 1024 floats takes tens of milliseconds on two cores.
``dense_backend='chroma'`` queries the Chroma collection instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from rag import langs
from rag.analysis import analyze
from rag.config import Settings
from rag.embeddings import make_embedding
from rag.errors import ConfigError, EmptyQuestionError
from rag.store import IndexReader, chroma_client, chroma_collection
from rag.types import Hit

MODES = ("hybrid", "bm25", "dense")
_ARABIC_SCRIPT = re.compile(r"[\u0600-\u06FF]")


@dataclass(frozen=True)
class Filters:
    """Restrict retrieval to passages in these languages / sources / date range (ISO dates)."""

    langs: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    date_from: str = ""
    date_to: str = ""

    def empty(self) -> bool:
        return not (self.langs or self.sources or self.date_from or self.date_to)


@dataclass(frozen=True)
class Query:
    """A question as the legs see it, analyzed and embedded once."""

    text: str
    lang: str
    tokens: list[str] = field(default_factory=list)
    vector: np.ndarray | None = None
    weights: dict[str, float] = field(default_factory=dict)  # IDF of each distinct term

    @property
    def total_weight(self) -> float:
        return sum(self.weights.values())


class Searcher:
    """Runs queries against one loaded index. Safe to share between threads."""

    def __init__(self, reader: IndexReader, settings: Settings) -> None:
        self.reader = reader
        self.settings = settings
        self.embedder = make_embedding(reader.embed_settings)
        self.embedder.set_idf(reader.idf_table)
        self._vocab: dict[str, int] = reader.bm25.vocab_dict
        indptr = np.asarray(reader.bm25.scores["indptr"])
        n_docs = float(reader.bm25.scores["num_docs"])
        df = np.diff(indptr).astype(np.float64)
        self._idf = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
        self._max_idf = float(np.log(1.0 + (n_docs + 0.5) / 0.5))
        self._collection: Any = None
        self._sentence_cache: dict[int, list[frozenset[str]]] = {}

    # --- query understanding -------------------------------------------------------------
    def query(self, text: str, lang: str | None = None) -> Query:
        if not text or not text.strip():
            raise EmptyQuestionError("the question is empty; type a question")
        lang = lang or langs.detect(text)
        tokens = [self._resolve(t) for t in analyze(text, lang)]
        weights = {t: self.idf(t) for t in tokens}
        vec = self.embedder.vector(text, self._word_weights(lang, weights))
        return Query(text, lang, tokens, vec, weights)

    def _word_weights(self, lang: str, weights: dict[str, float]) -> Callable[[str], float]:
        """Weights for the query's words in its embedding: each word's IDF (of its analyzed
        form) relative to the question's mean. Documents are embedded unweighted; weighting
        only the query makes a rare name count for more than a common verb, without any
        corpus statistics inside the stored vectors."""
        mean = sum(weights.values()) / len(weights) if weights else 1.0

        def weight(word: str) -> float:
            terms = [self._resolve(t) for t in analyze(word, lang)]
            return max((self.idf(t) for t in terms), default=mean) / mean

        return weight

    def _resolve(self, token: str) -> str:
        """An Arabic-script query word the index has never seen is matched to an indexed word
        that it extends by one or two letters (a suffix the light stemmers leave, e.g.
        "گفتند" -> "گفت"), so inflection does not sink a question."""
        if token in self._vocab or not _ARABIC_SCRIPT.match(token):
            return token
        for cut in (1, 2):
            if len(token) - cut >= 3 and token[:-cut] in self._vocab:
                return token[:-cut]
        return token

    def idf(self, token: str) -> float:
        """Inverse document frequency of an analyzed token (unseen tokens get the maximum)."""
        tid = self._vocab.get(token)
        return float(self._idf[tid]) if tid is not None and tid < len(self._idf) else self._max_idf

    # --- legs ----------------------------------------------------------------------------
    def mask(self, filters: Filters) -> np.ndarray | None:
        if filters.empty():
            return None
        r = self.reader
        keep = np.ones(len(r.chunk_ids), dtype=bool)
        if filters.langs:
            keep &= np.isin(r.langs, list(filters.langs))
        if filters.sources:
            keep &= np.isin(r.sources, [s.lower() for s in filters.sources])
        if filters.date_from:
            keep &= (r.dates >= filters.date_from) & (r.dates != "")
        if filters.date_to:
            keep &= (r.dates <= filters.date_to) & (r.dates != "")
        return keep

    def bm25(self, query: Query, mask: np.ndarray | None, n: int) -> list[tuple[int, float]]:
        known = [t for t in query.tokens if t in self._vocab]
        if not known:
            return []
        weights = mask.astype(np.float32) if mask is not None else None
        scores = self.reader.bm25.get_scores(known, weight_mask=weights)
        return _top(scores, n)

    def dense(
        self, query: Query, mask: np.ndarray | None, n: int, floor: bool = True
    ) -> list[tuple[int, float]]:
        qvec = query.vector if query.vector is not None else self.embedder.vector(query.text)
        if not qvec.any():
            return []
        if self.settings.retrieval.dense_backend == "chroma":
            return self._dense_chroma(qvec, mask, n, floor)
        if self.settings.retrieval.dense_backend != "exact":
            raise ConfigError("dense_backend must be 'exact' or 'chroma'")
        scores = self.reader.vectors @ qvec
        # Signed hashing leaves unrelated texts a few hundredths of cosine apart; below the
        # floor a "match" is collisions, not shared n-grams.
        if floor:
            scores = np.where(scores >= self.settings.retrieval.dense_min_score, scores, 0.0)
        if mask is not None:
            scores = np.where(mask, scores, -np.inf)
        return _top(scores, n)

    def _dense_chroma(
        self, qvec: np.ndarray, mask: np.ndarray | None, n: int, floor: bool = True
    ) -> list[tuple[int, float]]:
        if self._collection is None:
            self._collection = chroma_collection(chroma_client(self.reader.dir))
        n_fetch = min(self._collection.count(), n * (4 if mask is not None else 1))
        if n_fetch == 0:
            return []
        res = self._collection.query(
            query_embeddings=[qvec.tolist()], n_results=n_fetch, include=["distances"]
        )
        minimum = self.settings.retrieval.dense_min_score if floor else 1e-9
        out = []
        for cid, dist in zip(res["ids"][0], res["distances"][0], strict=True):
            i = self.reader.position.get(cid)
            score = 1.0 - float(dist)
            if i is not None and (mask is None or mask[i]) and score >= minimum:
                out.append((i, score))
        return out[:n]

    def closest(self, query: Query, k: int, filters: Filters | None = None) -> list[Hit]:
        """Nearest passages by the embedding alone, with no noise floor: what an abstaining
        answer shows as "closest passages" when nothing matched."""
        mask = self.mask(filters or Filters())
        return [
            self._hit(i, s, None, r)
            for r, (i, s) in enumerate(self.dense(query, mask, k, floor=False), 1)
        ]

    def _hit(self, i: int, score: float, b_rank: int | None, d_rank: int | None) -> Hit:
        chunk = self.reader.chunk(i)
        info, _ = self.reader.doc(chunk.doc_id)
        return Hit(chunk, info, score, b_rank, d_rank)

    # --- sentence-level re-ranking ---------------------------------------------------------
    def sentence_terms(self, i: int) -> list[frozenset[str]]:
        """Analyzed terms of each sentence of chunk ``i`` (stored at ingest; cached)."""
        cached = self._sentence_cache.get(i)
        if cached is None:
            cached = [frozenset(t) for t in self.reader.sentence_tokens(i)]
            if len(self._sentence_cache) > 20_000:
                self._sentence_cache.clear()
            self._sentence_cache[i] = cached
        return cached

    @staticmethod
    def coverage(query: Query, terms: frozenset[str]) -> float:
        """Share of the question's IDF weight that ``terms`` contain."""
        total = query.total_weight
        if total <= 0:
            return 0.0
        return sum(w for t, w in query.weights.items() if t in terms) / total

    def rerank(
        self, query: Query, fused: list[tuple[int, float]], depth: int, weight: float
    ) -> list[tuple[int, float]]:
        """Re-rank the top ``depth`` passages by fused score plus their best sentence's
        coverage of the question: answers tend to sit in one sentence that holds most of the
        question's rare words, while a passage can collect them from scattered sentences."""
        head, tail = fused[:depth], fused[depth:]
        if not head:
            return fused
        top = head[0][1] or 1.0
        rescored = [
            (
                i,
                s / top
                + weight
                * max((self.coverage(query, t) for t in self.sentence_terms(i)), default=0.0),
            )
            for i, s in head
        ]
        rescored.sort(key=lambda kv: -kv[1])
        floor = rescored[-1][1]
        return rescored + [(i, min(floor, s / top)) for i, s in tail]

    # --- fused ---------------------------------------------------------------------------
    def search(
        self,
        text: str,
        k: int | None = None,
        filters: Filters | None = None,
        mode: str | None = None,
        lang: str | None = None,
        rerank: bool = True,
    ) -> tuple[Query, list[Hit]]:
        """The top ``k`` passages for ``text``; each Hit records each leg's rank."""
        rs = self.settings.retrieval
        k = k or rs.k
        mode = mode or rs.mode
        if mode not in MODES:
            raise ConfigError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        query = self.query(text, lang)
        if not query.tokens and (query.vector is None or not query.vector.any()):
            raise EmptyQuestionError(
                "the question has no words to search for (only punctuation or very common "
                "words); ask with a name, a place or a topic"
            )
        mask = self.mask(filters or Filters())
        n = max(rs.candidates, k)
        lexical = self.bm25(query, mask, n) if mode in ("hybrid", "bm25") else []
        dense = self.dense(query, mask, n) if mode in ("hybrid", "dense") else []
        fused = fuse(lexical, dense, rs.dense_weight, rs.fusion, rs.rrf_k)
        if rerank and rs.sentence_weight > 0 and query.tokens:
            fused = self.rerank(query, fused, rs.rerank_depth, rs.sentence_weight)
        b_rank = {i: r for r, (i, _) in enumerate(lexical, 1)}
        d_rank = {i: r for r, (i, _) in enumerate(dense, 1)}
        hits = [self._hit(i, score, b_rank.get(i), d_rank.get(i)) for i, score in fused[:k]]
        return query, hits


def fuse(
    lexical: list[tuple[int, float]],
    dense: list[tuple[int, float]],
    dense_weight: float,
    method: str = "score",
    rrf_k: int = 60,
) -> list[tuple[int, float]]:
    """Fuse two ranked legs; a single non-empty leg keeps its own order.

    'score': a convex combination of each leg's scores scaled to [0, 1] by its best score
    (a passage missing from a leg gets 0 there). 'rrf': weighted reciprocal rank fusion.
    """
    if not dense:
        return lexical
    if not lexical:
        return dense
    scores: dict[int, float] = {}
    if method == "score":
        for leg, weight in ((lexical, 1.0 - dense_weight), (dense, dense_weight)):
            top = leg[0][1]
            for i, s in leg:
                scores[i] = scores.get(i, 0.0) + weight * (s / top if top > 0 else 0.0)
        return sorted(scores.items(), key=lambda kv: -kv[1])
    for rank, (i, _) in enumerate(lexical, 1):
        scores[i] = scores.get(i, 0.0) + (1.0 - dense_weight) / (rrf_k + rank)
    for rank, (i, _) in enumerate(dense, 1):
        scores[i] = scores.get(i, 0.0) + dense_weight / (rrf_k + rank)
    # Ties go to the lexical leg's order (dict keeps insertion order; sort is stable).
    return sorted(scores.items(), key=lambda kv: -kv[1])


def _top(scores: np.ndarray, n: int) -> list[tuple[int, float]]:
    n = min(n, len(scores))
    if n <= 0:
        return []
    idx = np.argpartition(-scores, n - 1)[:n]
    idx = idx[np.argsort(-scores[idx], kind="stable")]
    # Zero (no shared term) and -inf (filtered out) are not matches.
    return [(int(i), float(scores[i])) for i in idx if scores[i] > 0]


class HybridRetriever(BaseRetriever):
    """The Searcher behind llama-index's retriever interface (NodeWithScore out)."""

    def __init__(
        self, searcher: Searcher, k: int | None = None, filters: Filters | None = None
    ) -> None:
        super().__init__()
        self.searcher = searcher
        self.k = k
        self.filters = filters

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        _, hits = self.searcher.search(query_bundle.query_str, self.k, self.filters)
        return [
            NodeWithScore(
                node=TextNode(
                    id_=h.chunk.chunk_id,
                    text=h.chunk.text,
                    start_char_idx=h.chunk.start,
                    end_char_idx=h.chunk.end,
                    metadata={
                        "doc_id": h.doc.doc_id,
                        "title": h.doc.title,
                        "lang": h.chunk.lang,
                        "path": h.doc.path,
                        "source": h.doc.source,
                        "date": h.doc.date,
                    },
                ),
                score=h.score,
            )
            for h in hits
        ]
