"""BM25 over the passages as they are now: a bm25s base segment plus a small delta segment.

Rebuilding a bm25s index over 100k passages takes seconds; a new article must be searchable in
less. So ``IndexWriter.finish`` rebuilds the base only when the change is large, and otherwise
writes the passages added since the base as a delta segment, scored with the base's statistics
(document frequencies, passage count, mean length), as if they had been part of it. Passages
deleted since the base are dropped at query time through the position map.

Both segments map their documents to the reader's passage positions (SQLite ``seq`` order), so
the rest of retrieval sees one index: ``vocab_dict``, ``doc_freqs``, ``postings`` and
``get_scores``, the parts of bm25s's interface that retrieval uses.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import bm25s
import numpy as np


def idf(df: np.ndarray, n_docs: float) -> np.ndarray:
    """BM25 IDF (bm25s's default, Lucene's): log(1 + (N - df + 0.5) / (df + 0.5))."""
    return np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))


@dataclass(frozen=True)
class Segment:
    """Postings of one segment: column ``t`` of (data, indices, indptr) holds the documents
    (segment-local numbers) containing term ``t`` and their BM25 scores."""

    vocab: dict[str, int]
    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    n_docs: int

    @classmethod
    def of_bm25s(cls, index: bm25s.BM25) -> Segment:
        scores = index.scores
        return cls(
            dict(index.vocab_dict),
            np.asarray(scores["data"]),
            np.asarray(scores["indices"]),
            np.asarray(scores["indptr"]),
            int(scores["num_docs"]),
        )

    def doc_freq(self, token: str) -> int:
        tid = self.vocab.get(token)
        return 0 if tid is None else int(self.indptr[tid + 1] - self.indptr[tid])

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp.npz")
        with tmp.open("wb") as fh:
            np.savez(
                fh,
                vocab=np.array(list(self.vocab), dtype=object),
                data=self.data,
                indices=self.indices,
                indptr=self.indptr,
                n_docs=np.array(self.n_docs),
            )
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Segment:
        with np.load(path, allow_pickle=True) as z:
            vocab = {str(t): i for i, t in enumerate(z["vocab"].tolist())}
            return cls(vocab, z["data"], z["indices"], z["indptr"], int(z["n_docs"]))


def delta_segment(
    token_lists: list[list[str]],
    base: Segment | None,
    *,
    k1: float,
    b: float,
    base_avgdl: float,
) -> Segment:
    """A segment over ``token_lists`` scored with the base's statistics: each term's IDF from
    its base document frequency (a term the base never saw is as rare as can be) and lengths
    against the base's mean, so its scores stand beside the base's."""
    n_base = base.n_docs if base is not None else 0
    avgdl = base_avgdl if base_avgdl > 0 else mean_length(token_lists)
    vocab: dict[str, int] = {}
    postings: dict[int, list[tuple[int, float]]] = {}
    for doc, tokens in enumerate(token_lists):
        norm = k1 * ((1 - b) + b * len(tokens) / max(avgdl, 1e-9))
        for term, tf in Counter(tokens).items():
            tid = vocab.setdefault(term, len(vocab))
            postings.setdefault(tid, []).append((doc, tf / (norm + tf)))
    df = np.array([base.doc_freq(t) if base else 0 for t in vocab], dtype=np.float64)
    term_idf = idf(df, float(max(n_base, 1)))
    indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
    indices: list[int] = []
    data: list[float] = []
    for tid in range(len(vocab)):
        entries = postings[tid]
        indptr[tid + 1] = indptr[tid] + len(entries)
        indices.extend(d for d, _ in entries)
        data.extend(term_idf[tid] * tfc for _, tfc in entries)
    return Segment(
        vocab,
        np.asarray(data, dtype=np.float32),
        np.asarray(indices, dtype=np.int32),
        indptr,
        len(token_lists),
    )


class LexicalIndex:
    """One BM25 index over the current passages, made of segments whose documents map to
    passage positions (``-1``: deleted since the segment was written)."""

    def __init__(self, parts: list[tuple[Segment, np.ndarray | None]], n_docs: int) -> None:
        self.n_docs = n_docs
        self._parts = parts
        # One id per distinct term across segments; per id, the term's column in each segment.
        self.vocab_dict: dict[str, int] = dict(parts[0][0].vocab) if parts else {}
        # Per segment, the global id of each of its columns (the first segment's are its own).
        self._global: list[np.ndarray | None] = [None]
        for segment, _ in parts[1:]:
            ids = np.zeros(len(segment.vocab), dtype=np.int64)
            for term, local in segment.vocab.items():
                ids[local] = self.vocab_dict.setdefault(term, len(self.vocab_dict))
            self._global.append(ids)
        self._terms: list[str] | None = None

    @property
    def segments(self) -> int:
        return len(self._parts)

    def _term(self, tid: int) -> str:
        if self._terms is None:
            terms = [""] * len(self.vocab_dict)
            for term, i in self.vocab_dict.items():
                terms[i] = term
            self._terms = terms
        return self._terms[tid]

    def doc_freqs(self) -> np.ndarray:
        """Live passages containing each term id (deleted passages not counted)."""
        out = np.zeros(len(self.vocab_dict), dtype=np.float64)
        for (segment, positions), ids in zip(self._parts, self._global, strict=True):
            if positions is None:
                counts = np.diff(segment.indptr).astype(np.float64)
            else:
                alive = np.concatenate(([0], np.cumsum(positions[segment.indices] >= 0)))
                counts = np.diff(alive[segment.indptr]).astype(np.float64)
            if ids is None:
                out[: len(counts)] += counts
            else:
                np.add.at(out, ids, counts)
        return out

    def postings(self, tid: int) -> tuple[np.ndarray, np.ndarray]:
        """(passage positions, scores) of the term with id ``tid``."""
        term = self._term(tid)
        docs: list[np.ndarray] = []
        scores: list[np.ndarray] = []
        for segment, positions in self._parts:
            local = segment.vocab.get(term)
            if local is None:
                continue
            lo, hi = int(segment.indptr[local]), int(segment.indptr[local + 1])
            d, s = segment.indices[lo:hi], segment.data[lo:hi]
            if positions is not None:
                d = positions[d]
                keep = d >= 0
                d, s = d[keep], s[keep]
            docs.append(d)
            scores.append(s)
        if len(docs) == 1:
            return docs[0], scores[0]
        if not docs:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        return np.concatenate(docs), np.concatenate(scores)

    def get_scores(self, tokens: list[str], weight_mask: np.ndarray | None = None) -> np.ndarray:
        """BM25 score of every passage for ``tokens`` (a repeated token counts again)."""
        scores = np.zeros(self.n_docs, dtype=np.float32)
        for token in tokens:
            tid = self.vocab_dict.get(token)
            if tid is None:
                continue
            docs, values = self.postings(tid)
            scores[docs] += values  # one posting per passage within a term: no repeats
        if weight_mask is not None:
            scores *= weight_mask
        return scores


def positions_of(segment_seqs: np.ndarray, current_seqs: np.ndarray) -> np.ndarray | None:
    """Where each of a segment's passages (by SQLite ``seq``) is now, -1 where it is gone;
    None when the segment is exactly the current passages in order."""
    if len(segment_seqs) == len(current_seqs) and np.array_equal(segment_seqs, current_seqs):
        return None
    found = np.searchsorted(current_seqs, segment_seqs)
    found = np.minimum(found, max(len(current_seqs) - 1, 0))
    ok = (
        current_seqs[found] == segment_seqs
        if len(current_seqs)
        else np.zeros(len(segment_seqs), dtype=bool)
    )
    return np.where(ok, found, -1).astype(np.int64)


def build_base(
    texts: Callable[[], Iterable[str]], *, k1: float, b: float
) -> tuple[bm25s.BM25 | None, float]:
    """A bm25s index (Lucene BM25, bm25s's default) over passages given as space-joined
    tokens, and their mean length in tokens (1.0 with no passage). ``texts()`` gives the
    passages, one at a time, in the same order each time it is called.

    The same scores as ``bm25s.BM25(k1, b).index(token_lists)``, built in two passes: the
    first counts each term's passages and each passage's length, the second writes every
    posting straight into its place in bm25s's term-major arrays. Only those arrays (8 bytes
    a posting) are held, not every passage's token list and bm25s's intermediate
    structures: a base over 109k passages held several GB that way. None when no passage
    has a token (bm25s cannot index that either)."""
    vocab: dict[str, int] = {}
    df_count: list[int] = []
    lengths = array("i")
    for text in texts():
        tokens = text.split()
        lengths.append(len(tokens))
        for term in set(tokens):
            tid = vocab.setdefault(term, len(vocab))
            if tid == len(df_count):
                df_count.append(1)
            else:
                df_count[tid] += 1
    n_docs = len(lengths)
    length = np.frombuffer(lengths, dtype=np.int32) if n_docs else np.zeros(0, np.int32)
    avgdl = float(length.mean()) if n_docs else 1.0
    if not vocab:
        return None, avgdl
    df = np.array(df_count, dtype=np.int64)
    col_ptr = np.concatenate([[0], np.cumsum(df)]).astype(np.int64)
    term_idf = idf(df, float(n_docs)).astype(np.float32)
    norm = (k1 * (1 - b + b * length / avgdl)).astype(np.float32)
    data = np.empty(int(col_ptr[-1]), dtype=np.float32)
    indices = np.empty(int(col_ptr[-1]), dtype=np.int32)
    filled = col_ptr[:-1].copy()  # where each term's next posting goes
    # Passages in order, so each term's postings come out with passages ascending. A block of
    # passages at a time: their postings sorted by term (stably), each term's run placed
    # after what earlier blocks put there.
    term_ids, counts, owners = array("i"), array("i"), array("i")

    def place() -> None:
        tid = np.frombuffer(term_ids, dtype=np.int32)
        order = np.argsort(tid, kind="stable")
        tid = tid[order]
        starts = np.flatnonzero(np.r_[True, tid[1:] != tid[:-1]])
        runs = np.diff(np.r_[starts, len(tid)])
        rank = np.arange(len(tid)) - np.repeat(starts, runs)
        dest = filled[tid] + rank
        owner = np.frombuffer(owners, dtype=np.int32)[order]
        freq = np.frombuffer(counts, dtype=np.int32)[order].astype(np.float32)
        data[dest] = term_idf[tid] * (freq / (freq + norm[owner]))
        indices[dest] = owner
        filled[tid[starts]] += runs

    doc = -1
    for doc, text in enumerate(texts()):
        tf = Counter(text.split())
        term_ids.extend([vocab[term] for term in tf])
        counts.extend(tf.values())
        owners.extend([doc] * len(tf))
        if len(term_ids) >= _BLOCK:
            place()
            del term_ids[:], counts[:], owners[:]
    if term_ids:
        place()
    if doc + 1 != n_docs or not np.array_equal(filled, col_ptr[1:]):
        raise ValueError("the passages changed between the two passes of build_base")
    index = bm25s.BM25(k1=k1, b=b)
    index.scores = {"data": data, "indices": indices, "indptr": col_ptr, "num_docs": n_docs}
    index.vocab_dict = vocab
    index.nonoccurrence_array = None  # Lucene BM25 has none (bm25s sets it in index())
    return index, avgdl


_BLOCK = 1_000_000  # postings placed together


def mean_length(token_lists: list[list[str]]) -> float:
    """Mean passage length in tokens (what a delta is scored against)."""
    return float(np.mean([len(t) for t in token_lists])) if token_lists else 1.0


def load_segment(path: Path) -> Segment | None:
    """A saved bm25s base segment (None for the empty folder written when there was nothing),
    its arrays memory-mapped: opening costs the vocabulary only (0.02-0.07 s instead of
    0.35 s at 109k passages), and processes serving one index share the pages."""
    if not any(path.iterdir()):
        return None
    return Segment.of_bm25s(bm25s.BM25.load(str(path), mmap=True))
