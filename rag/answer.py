"""Offline extractive answers: the best supporting sentences of the top passages, each cited.

A sentence's support is the share of the question's weight (IDF of its analyzed terms) that
the sentence contains, directly or through cross-lingual evidence (``rag.crossling``). The
answer takes the best-supported sentences, drops repeats, and orders them document by document
(best document first) in reading order. When no sentence covers
enough of the question, the answer abstains and the closest passages are shown instead. A
language the best sentences miss gets its own best sentence in, when it supports the question.
"""

from __future__ import annotations

from dataclasses import dataclass

from rag.citations import number_citations
from rag.config import AnswerSettings
from rag.retrieval import XLING_CREDIT, Query, Searcher
from rag.types import Answer, Hit

NO_ANSWER = {
    "en": "I found no answer to this in the documents. The closest passages are listed below.",
    "fa": "پاسخی برای این پرسش در اسناد پیدا نکردم. نزدیک‌ترین بخش‌ها در زیر آمده‌اند.",
    "ar": "لم أجد إجابة عن هذا السؤال في الوثائق. أقرب المقاطع مذكورة أدناه.",
}
_MIN_WORDS = 4
_RANK_DECAY = 0.1


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved passage, scored against the question."""

    hit: Hit
    start: int
    end: int
    coverage: float
    score: float
    terms: frozenset[str]


def no_answer_text(lang: str) -> str:
    return NO_ANSWER.get(lang, NO_ANSWER["en"])


def candidates(query: Query, hits: list[Hit], searcher: Searcher) -> list[Candidate]:
    """Every distinct sentence of ``hits`` with its support for ``query``, best first."""
    seen: set[tuple[str, int, int]] = set()
    out: list[Candidate] = []
    for rank, hit in enumerate(hits):
        position = searcher.reader.position[hit.chunk.chunk_id]
        sentence_terms = searcher.sentence_terms(position)
        for (start, end), terms in zip(hit.chunk.sentences, sentence_terms, strict=True):
            key = (hit.doc.doc_id, start, end)
            if key in seen:
                continue
            seen.add(key)
            text = hit.chunk.text[start - hit.chunk.start : end - hit.chunk.start]
            if len(text.split()) < _MIN_WORDS:
                continue
            coverage = searcher.coverage(query, terms, hit.chunk.lang)
            if coverage <= 0:
                continue
            score = coverage / (1.0 + _RANK_DECAY * rank)
            out.append(Candidate(hit, start, end, coverage, score, terms))
    out.sort(key=lambda c: -c.score)
    return out


def _redundant(c: Candidate, chosen: list[Candidate], limit: float) -> bool:
    for other in chosen:
        union = c.terms | other.terms
        if union and len(c.terms & other.terms) / len(union) >= limit:
            return True
    return False


def _other_languages(
    cands: list[Candidate], chosen: list[Candidate], settings: AnswerSettings, best: float
) -> list[Candidate]:
    """The best sentence of each language the chosen ones miss, when it supports the question
    well enough: Manba's readers compare how each language's press told the story, so the
    Persian or Arabic report of a fact is kept beside the English one that outranked it."""
    heard = {c.hit.chunk.lang for c in chosen}
    # Another language's report meets the question mostly through stand-ins (glossary, names),
    # which count XLING_CREDIT of a word: the bar is lowered by as much.
    floor = settings.min_coverage * XLING_CREDIT
    extra: list[Candidate] = []
    for c in cands:
        if len(extra) >= settings.other_languages:
            break
        lang = c.hit.chunk.lang
        if lang in heard or c.coverage < floor or c.score < 0.25 * best:
            continue
        if _redundant(c, chosen + extra, settings.redundancy):
            continue
        heard.add(lang)
        extra.append(c)
    return extra


def select(
    cands: list[Candidate], settings: AnswerSettings, lang: str | None = None
) -> list[Candidate]:
    """The sentences to answer with, in reading order; empty when support is too weak.

    Documents come in the order of their best sentence, those in the question's language
    ``lang`` first: the reader meets the report in their own language, then the others'."""
    # A sentence in another language than the question meets it through stand-ins, which
    # count XLING_CREDIT of a word: its bar is lowered by as much (as in _other_languages).
    bar = settings.min_coverage * (XLING_CREDIT if cands and cands[0].hit.chunk.lang != lang else 1)
    if not cands or cands[0].coverage < bar:
        return []
    best = cands[0].score
    # A sentence that covers much less of the question than the best one answers another
    # question (the Idlib agreement, when the best sentence is about the Sochi agreement on it).
    floor = max(bar, settings.relative_coverage * max(c.coverage for c in cands))
    chosen: list[Candidate] = []
    for c in cands:
        if len(chosen) >= settings.max_sentences:
            break
        if c.coverage < floor or c.score < 0.5 * best:
            continue
        if _redundant(c, chosen, settings.redundancy):
            continue
        chosen.append(c)
    chosen += _other_languages(cands, chosen, settings, best)
    doc_order: dict[str, int] = {}
    for c in chosen:
        doc_order.setdefault(c.hit.doc.doc_id, len(doc_order))
    return sorted(
        chosen,
        key=lambda c: (c.hit.chunk.lang != lang, doc_order[c.hit.doc.doc_id], c.start),
    )


def extractive_answer(
    question: str,
    query: Query,
    hits: list[Hit],
    searcher: Searcher,
    settings: AnswerSettings,
) -> Answer:
    """Answer ``question`` from ``hits`` with cited sentences, or abstain."""
    chosen = select(candidates(query, hits, searcher), settings, query.lang)
    if not chosen:
        return Answer(question, query.lang, no_answer_text(query.lang), True, (), tuple(hits))
    citations, text = number_citations(
        [(c.hit, c.start, c.end) for c in chosen], lambda doc_id: searcher.reader.doc(doc_id)[1]
    )
    return Answer(question, query.lang, text, False, tuple(citations), tuple(hits))
