"""Plain records that flow one way: SourceDoc -> Chunk -> Hit -> Answer(Citation)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Span = tuple[int, int]


@dataclass(frozen=True)
class SourceDoc:
    """One document as read from disk: the original text, whole and unchanged."""

    doc_id: str
    text: str
    title: str
    path: str
    lang: str
    content_hash: str
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Chunk:
    """A passage: ``document_text[start:end] == text``; sentences are absolute spans."""

    chunk_id: str
    doc_id: str
    ord: int
    start: int
    end: int
    text: str
    lang: str
    sentences: tuple[Span, ...]


@dataclass(frozen=True)
class DocInfo:
    """What the index knows of a document besides its text."""

    doc_id: str
    title: str
    path: str
    lang: str
    source: str
    date: str


@dataclass(frozen=True)
class Hit:
    """A retrieved passage with its fused score and the rank each leg gave it (None: absent)."""

    chunk: Chunk
    doc: DocInfo
    score: float
    bm25_rank: int | None = None
    dense_rank: int | None = None
    xling_rank: int | None = None
    # Why it matched: (question word, how, what) — how is "word" (the word itself), "glossary"
    # (a lexicon concept, what = its English label), "name" (phonetic key), "number", "date"
    # or "translation" (a word of the model's translation of the question, what = that text).
    matched: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class Citation:
    """A numbered citation: the quote equals the stored document text at [start, end)."""

    n: int
    doc_id: str
    title: str
    path: str
    lang: str
    start: int
    end: int
    quote: str
    chunk_id: str
    passage_start: int
    passage_end: int


@dataclass(frozen=True)
class Answer:
    question: str
    question_lang: str
    answer: str
    abstained: bool
    citations: tuple[Citation, ...]
    hits: tuple[Hit, ...]
    # Connected mode: the question as the model translated it for retrieval, by language,
    # and anything that went wrong on the way (shown to the user, never hidden).
    translations: tuple[tuple[str, str], ...] = ()
    warnings: tuple[str, ...] = ()
    # Connected mode: the model that wrote the answer ("" = extractive), the answer's
    # sentences with no valid citation (indexes into the answer's lines), and how many
    # citation numbers the model invented (removed).
    generated_by: str = ""
    standalone: str = ""  # a follow-up question as the model rewrote it ("" = not rewritten)
    unsupported: tuple[int, ...] = ()
    invented_citations: int = 0
