"""Hybrid retrieval: BM25 over the analyzer's tokens and dense search over the embedding,
fused as a convex combination of max-normalized scores (or weighted reciprocal rank), then the
top passages re-ranked by their best sentence, with language, source and date filters.

Dense search is exact (a matrix product) by default: Chroma's HNSW loses recall on hashed
vectors, and exact search over 100k x 256 floats takes about 10 ms on one core.
``dense_backend='chroma'`` queries the Chroma collection instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from rag import crossling, langs, lexical, vectorstore
from rag.analysis import analyze
from rag.config import Settings
from rag.embeddings import make_embedding
from rag.errors import ConfigError, EmptyQuestionError, ModelError
from rag.store import IndexReader
from rag.types import Hit

MODES = ("hybrid", "bm25", "dense", "xling")
_XLENGTH_CAP = 1.15  # the most a short passage is raised by the length prior
XLING_CREDIT = 0.8  # share of a word's weight a sentence gets for holding only its stand-in
_ARABIC_SCRIPT = re.compile(r"[\u0600-\u06FF]")
_HOW = {
    crossling.CONCEPT: "glossary",
    crossling.NAME: "name",
    crossling.NUMBER: "number",
    crossling.DATE: "date",
}


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
    # The question's content words with their cross-lingual alternatives, and their weights.
    units: list[crossling.Unit] = field(default_factory=list)
    unit_weights: list[float] = field(default_factory=list)
    # Connected mode: the question as the model translated it, one Query per language.
    translations: list[Query] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # what went wrong (model calls)

    @property
    def total_weight(self) -> float:
        return sum(self.unit_weights) if self.units else sum(self.weights.values())

    @property
    def xtokens(self) -> list[str]:
        """Every cross-lingual token of the question, once each."""
        return list(dict.fromkeys(t for u in self.units for t in sorted(u.alternatives)))


class Searcher:
    """Runs queries against one loaded index. Safe to share between threads."""

    def __init__(self, reader: IndexReader, settings: Settings) -> None:
        self.reader = reader
        self.settings = settings
        self.embedder = make_embedding(reader.embed_settings, settings.llm)
        self.embedder.set_idf(reader.idf_table)
        # Hashed vectors of unrelated texts sit a few hundredths apart (see dense()); a
        # model's cosine has no such noise band.
        self._model_vectors = reader.embed_settings.is_model
        n_docs = float(max(len(reader.chunk_ids), 1))
        self._vocab, self._idf = _vocab_idf(reader.bm25, n_docs)
        self._xvocab, self._xidf = _vocab_idf(reader.xbm25, n_docs)
        self._max_idf = float(np.log(1.0 + (n_docs + 0.5) / 0.5))
        self._parts = tuple(p for p in settings.retrieval.xling_parts.split(",") if p)
        # The cross-lingual leg's length prior (see RetrievalSettings.xling_length_prior):
        # BM25 over stand-in tokens sees only the words that have one, so a long passage of
        # common news words looks short to it and collects chance matches of generic concepts.
        lengths = (reader.ends - reader.starts).astype(np.float32)
        power = settings.retrieval.xling_length_prior
        # A short passage (a title, a one-line chunk) is raised by at most _XLENGTH_CAP, so
        # being short does not outweigh matching the question.
        self._xlength = (
            np.minimum(_XLENGTH_CAP, (float(lengths.mean()) / np.maximum(lengths, 1.0)) ** power)
            if power and len(lengths)
            else None
        )
        self.translation_weight = settings.llm.translation_weight
        self._collection: Any = None
        self._sentence_cache: dict[int, list[frozenset[str]]] = {}

    # --- query understanding -------------------------------------------------------------
    def query(self, text: str, lang: str | None = None) -> Query:
        if not text or not text.strip():
            raise EmptyQuestionError("the question is empty; type a question")
        lang = lang or langs.detect(text)
        tokens = [self._resolve(t) for t in analyze(text, lang)]
        weights = {t: self.idf(t) for t in tokens}
        warnings: list[str] = []
        vec: np.ndarray | None
        if self._model_vectors:
            try:
                vec = self.embedder.vector(text)
            except ModelError as err:
                # Said in the answer, never hidden: the other legs still run.
                vec, warnings = None, [f"question not embedded, dense search skipped: {err}"]
        else:
            vec = self.embedder.vector(text, self._word_weights(lang, weights))
        units: dict[tuple[str, frozenset[str]], crossling.Unit] = {}
        for unit in crossling.query_units(text, lang, self._parts):
            unit = replace(unit, token=self._resolve(unit.token) if unit.token else "")
            units.setdefault((unit.token, unit.alternatives), unit)
        unit_list = list(units.values())
        return Query(
            text,
            lang,
            tokens,
            vec,
            weights,
            unit_list,
            [self._unit_weight(u) for u in unit_list],
            warnings=warnings,
        )

    def _translated(self, translations: Mapping[str, str] | None, lang: str) -> list[Query]:
        """Queries for the model's translations (not the question's own language)."""
        out: list[Query] = []
        for target, text in (translations or {}).items():
            if target != lang and text.strip():
                translated = self.query(text, target)
                if translated.tokens:
                    out.append(translated)
        return out

    def _unit_weight(self, unit: crossling.Unit) -> float:
        """A question word's weight: the IDF of the word itself where the index has it, else
        the best IDF among the cross-lingual tokens standing for it, else the maximum (a word
        nothing in the index matches still counts against a passage's support)."""
        if unit.token and unit.token in self._vocab:
            return self.idf(unit.token)
        known = [self.xidf(t) for t in unit.alternatives if t in self._xvocab]
        return max(known) if known else self._max_idf

    def xidf(self, token: str) -> float:
        tid = self._xvocab.get(token)
        return (
            float(self._xidf[tid]) if tid is not None and tid < len(self._xidf) else self._max_idf
        )

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
        if not known or self.reader.bm25 is None:
            return []
        weights = mask.astype(np.float32) if mask is not None else None
        scores = self.reader.bm25.get_scores(known, weight_mask=weights)
        return _top(scores, n)

    def _scale_langs(
        self, ranked: list[tuple[int, float]], lang: str, same: float, other: float
    ) -> list[tuple[int, float]]:
        """Scores times ``same`` for passages in the question's language ``lang`` and times
        ``other`` for the rest, re-sorted. A Persian question's words found in Arabic text (one
        script, much shared vocabulary) are cross-lingual evidence, weaker than the same words
        in Persian text; the xling leg carries it, and in the question's own language the BM25
        leg already holds the words the xling leg would count again."""
        if same == 1 and other == 1:
            return ranked
        langs = self.reader.langs
        out = [(i, s * (same if langs[i] == lang else other)) for i, s in ranked]
        out.sort(key=lambda kv: -kv[1])
        return out

    def xling(self, query: Query, mask: np.ndarray | None, n: int) -> list[tuple[int, float]]:
        """BM25 over the cross-lingual tokens: lexicon concepts, name keys, numbers, dates.

        A question word counts once, with the best of the tokens that stand for it: its name
        keys and glossary entries are alternatives, not separate evidence (summing them would
        let a word with five stand-ins outweigh three words with one each)."""
        xbm25 = self.reader.xbm25
        if xbm25 is None:
            return []
        total = np.zeros(len(self.reader.chunk_ids), dtype=np.float32)
        found = False
        for unit in query.units:
            ids = [self._xvocab[t] for t in unit.alternatives if t in self._xvocab]
            if not ids:
                continue
            found = True
            best = np.zeros_like(total)
            for tid in ids:
                docs, scores = xbm25.postings(tid)
                best[docs] = np.maximum(best[docs], scores)
            total += best
        if not found:
            return []
        if self._xlength is not None:
            total *= self._xlength
        if mask is not None:
            total *= mask
        return _top(total, n)

    def dense(
        self, query: Query, mask: np.ndarray | None, n: int, floor: bool = True
    ) -> list[tuple[int, float]]:
        qvec = query.vector
        if qvec is None or not qvec.any():
            return []
        floor = floor and not self._model_vectors
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
            self._collection = vectorstore.collection(self.settings.with_index(self.reader.dir))
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

    def _hit(
        self,
        i: int,
        score: float,
        b_rank: int | None,
        d_rank: int | None,
        x_rank: int | None = None,
    ) -> Hit:
        chunk = self.reader.chunk(i)
        info, _ = self.reader.doc(chunk.doc_id)
        return Hit(chunk, info, score, b_rank, d_rank, x_rank)

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
    def coverage(query: Query, terms: frozenset[str], lang: str | None = None) -> float:
        """Share of the question's weight that ``terms`` support: a word counts when the
        sentence has the word itself or a cross-lingual token standing for it. A sentence in
        ``lang`` is also measured against the question's translation into ``lang``, if any."""
        own = Searcher._coverage(query, terms, lang is None or lang == query.lang)
        for translated in query.translations:
            if translated.lang == lang:
                own = max(own, Searcher._coverage(translated, terms, True))
        return own

    @staticmethod
    def _coverage(query: Query, terms: frozenset[str], same_lang: bool = True) -> float:
        """``coverage`` against one query; a word met in a passage of another language (a
        Persian word in Arabic text: same script, maybe not the same meaning) counts as a
        cross-lingual match."""
        word_credit = 1.0 if same_lang else XLING_CREDIT
        total = query.total_weight
        if total <= 0:
            return 0.0
        if query.units:
            got = 0.0
            for u, w in zip(query.units, query.unit_weights, strict=True):
                if u.token and u.token in terms:
                    got += word_credit * w
                elif not u.alternatives.isdisjoint(terms):
                    # Through a glossary entry, a name key or a number: good evidence, but the
                    # word itself is better, so a same-language exact match wins a tie.
                    got += XLING_CREDIT * w
            return got / total
        return word_credit * sum(w for t, w in query.weights.items() if t in terms) / total

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
                * max(
                    (self.coverage(query, t, self.reader.langs[i]) for t in self.sentence_terms(i)),
                    default=0.0,
                ),
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
        translations: Mapping[str, str] | None = None,
    ) -> tuple[Query, list[Hit]]:
        """The top ``k`` passages for ``text``; each Hit records each leg's rank.

        ``translations`` (connected mode: the question in other languages, by the model) add
        one lexical leg each, over the passages in that language; the offline legs stay."""
        rs = self.settings.retrieval
        k = k or rs.k
        mode = mode or rs.mode
        if mode not in MODES:
            raise ConfigError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        query = self.query(text, lang)
        if (
            not query.tokens
            and not query.xtokens
            and (query.vector is None or not query.vector.any())
        ):
            raise EmptyQuestionError(
                "the question has no words to search for (only punctuation or very common "
                "words); ask with a name, a place or a topic"
            )
        mask = self.mask(filters or Filters())
        n = max(rs.candidates, k)
        lexical = self.bm25(query, mask, n) if mode in ("hybrid", "bm25") else []
        dense = self.dense(query, mask, n) if mode in ("hybrid", "dense") else []
        xling = self.xling(query, mask, n) if mode in ("hybrid", "xling") and self._parts else []
        # In hybrid mode each leg is scaled by language (see _scale_langs) after its best
        # score is taken as its normalizer, so the scaling is not undone by normalization.
        other, same_x = (rs.other_lang_factor, rs.xling_same_lang) if mode == "hybrid" else (1, 1)
        legs: list[Leg] = [
            (self._scale_langs(leg, query.lang, same, oth), weight, leg[0][1] if leg else 0.0)
            for leg, weight, same, oth in (
                (lexical, 1.0 - rs.dense_weight, 1.0, other),
                (dense, rs.dense_weight, 1.0, other),
                (xling, rs.xling_weight, same_x, 1.0),
            )
        ]
        do_rerank = rerank and rs.sentence_weight > 0 and bool(query.tokens or query.units)
        depth = rs.rerank_depth or n

        def ranked(legs: list[Leg]) -> list[tuple[int, float]]:
            fused = fuse_legs(legs, rs.fusion, rs.rrf_k)
            if do_rerank:
                fused = self.rerank(query, fused, rs.rerank_depth, rs.sentence_weight)
            return diversify(fused, k, self.reader.langs, rs.lang_diversity, depth)

        top = ranked(legs)
        translated = self._translated(translations, query.lang) if mode == "hybrid" else []
        if translated:
            # Connected: one lexical leg per translation, over the passages in its language.
            # The offline ranking's best half stays in the list whatever the model wrote.
            keep = top[: (k + 1) // 2]
            query.translations.extend(translated)
            for t in translated:
                in_lang = self.reader.langs == t.lang
                leg_mask = in_lang if mask is None else (mask & in_lang)
                legs.append((self.bm25(t, leg_mask, n), self.translation_weight, 0.0))
                if self._model_vectors:
                    # Model embeddings: the translation's vector joins the fusion too.
                    weight = rs.dense_weight * self.translation_weight
                    legs.append((self.dense(t, leg_mask, n), weight, 0.0))
                query.warnings.extend(t.warnings)
            top = keep_offline(ranked(legs), keep, k)
        b_rank = {i: r for r, (i, _) in enumerate(lexical, 1)}
        d_rank = {i: r for r, (i, _) in enumerate(dense, 1)}
        x_rank = {i: r for r, (i, _) in enumerate(xling, 1)}
        hits = [
            replace(
                self._hit(i, score, b_rank.get(i), d_rank.get(i), x_rank.get(i)),
                matched=self.explain(query, i),
            )
            for i, score in top
        ]
        return query, hits

    def explain(self, query: Query, i: int) -> tuple[tuple[str, str, str], ...]:
        """Which of the question's words passage ``i`` matched, and through what."""
        terms: set[str] = set()
        for sentence in self.sentence_terms(i):
            terms |= sentence
        out: list[tuple[str, str, str]] = []
        for unit in query.units:
            if unit.token and unit.token in terms:
                out.append((unit.word, "word", unit.word))
                continue
            for token in sorted(unit.alternatives & terms):
                how = _HOW[token[:2]]
                out.append((unit.word, how, crossling.label(token) if how == "glossary" else ""))
                break
        lang = self.reader.langs[i]
        for translated in query.translations:
            if translated.lang == lang:
                words = [w for w in dict.fromkeys(translated.tokens) if w in terms]
                out.extend((w, "translation", translated.text) for w in words)
        return tuple(out)


def _vocab_idf(
    index: lexical.LexicalIndex | None, n_docs: float
) -> tuple[dict[str, int], np.ndarray]:
    """A lexical index's vocabulary and each term's BM25 IDF (empty when there is no index)."""
    if index is None:
        return {}, np.zeros(0)
    return index.vocab_dict, lexical.idf(index.doc_freqs(), n_docs)


def keep_offline(
    ranked: list[tuple[int, float]], keep: list[tuple[int, float]], k: int
) -> list[tuple[int, float]]:
    """``ranked`` cut to ``k`` with every passage of ``keep`` in it: the ones missing take the
    places of the lowest-ranked others, at the bottom of the list."""
    ids = {i for i, _ in ranked[:k]}
    missing = [item for item in keep if item[0] not in ids]
    if not missing:
        return ranked[:k]
    kept = {i for i, _ in keep}
    head = ranked[:k]
    while missing:
        drop = max(j for j, (i, _) in enumerate(head) if i not in kept)
        head.pop(drop)
        head.append(missing.pop(0))
    return head


def diversify(
    ranked: list[tuple[int, float]], k: int, langs: Any, ratio: float, depth: int
) -> list[tuple[int, float]]:
    """The top ``k`` of ``ranked``, where each language that scores at least ``ratio`` of the
    best score within the first ``depth`` passages has its best passage, in place of the
    lowest-ranked passage of the language that has most. Same-language matches keep the top
    ranks; the reporting in the other languages is not pushed out of the list by it."""
    top = ranked[:k]
    if ratio <= 0 or not top or top[0][1] <= 0:
        return top
    floor = ratio * top[0][1]
    present = {langs[i] for i, _ in top}
    extra: dict[str, tuple[int, float]] = {}
    for i, score in ranked[k:depth]:
        lang = langs[i]
        if score < floor:
            break
        if lang not in present and lang not in extra:
            extra[lang] = (i, score)
    for item in extra.values():
        counts: dict[str, int] = {}
        for i, _ in top:
            counts[langs[i]] = counts.get(langs[i], 0) + 1
        crowded = max(counts, key=lambda lang: counts[lang])
        if counts[crowded] < 2:
            break
        drop = max(j for j, (i, _) in enumerate(top) if langs[i] == crowded)
        top.pop(drop)
        top.append(item)
    return sorted(top, key=lambda kv: -kv[1])


Leg = tuple[list[tuple[int, float]], float, float]  # (ranked, weight, normalizer; 0: its top)


def fuse_legs(legs: list[Leg], method: str = "score", rrf_k: int = 60) -> list[tuple[int, float]]:
    """Fuse ranked legs with weights; with one non-empty leg, its own order.

    'score': a weighted sum of each leg's scores scaled to [0, 1] by its best score, or by the
    leg's own normalizer when it has one (a passage missing from a leg gets 0 there). 'rrf':
    weighted reciprocal rank fusion. Ties keep the order of the first leg that ranked it.
    """
    present = [(leg, w, norm) for leg, w, norm in legs if leg and w > 0]
    if not present:
        return []
    if len(present) == 1:
        return present[0][0]
    scores: dict[int, float] = {}
    for leg, weight, norm in present:
        top = norm or leg[0][1]
        for rank, (i, s) in enumerate(leg, 1):
            if method == "score":
                add = weight * (s / top if top > 0 else 0.0)
            else:
                add = weight / (rrf_k + rank)
            scores[i] = scores.get(i, 0.0) + add
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
