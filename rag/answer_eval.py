"""Answer-quality evaluation: retrieval, citations, answers, abstention, faithfulness, latency.

Each test case is asked as a user asks it (``Engine.ask``); its passages are also ranked to
a depth of 20 for the retrieval figures. Definitions (one per figure, used everywhere):

- A passage is *relevant* to a gold entry when it is in the gold document and overlaps the gold
  quote's span (a gold entry with no quote: any passage of the document).
- Recall@k: share of a question's gold entries that a relevant passage in the top k covers.
  MRR@10: 1 / rank of the first relevant passage. nDCG@10: binary relevance.
- Citation precision: share of citations whose passage overlaps a gold quote or whose cited
  sentence contains a gold answer. Citation recall: share of gold entries some citation's
  passage covers (in the spirit of ALCE).
- Answer containment: a gold answer occurs in the answer (word-bounded, after fa/ar
  normalization of both sides). Token F1: SQuAD's, best over the gold answers.
- Abstention precision / recall over unanswerable questions.
- Faithfulness: share of the answer's sentences supported by the passages they cite: offline,
  80% of the sentence's content words are in its cited passages; with ``judge``, the model says.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from rag.analysis import analyze
from rag.citations import parse_markers
from rag.engine import Engine
from rag.normalize import normalize
from rag.testset import TestCase, TestSet
from rag.types import Answer, Hit

CUTOFFS = (1, 5, 20)
DEPTH = 20
SUPPORT = 0.8  # share of a sentence's content words its cited passages must hold
_PUNCT = re.compile(r"[^\w\s]|_")
_MARKERS = re.compile(r"\[\s*[0-9\u06F0-\u06F9\u0660-\u0669]+\s*\]")
_ARTICLES = {"a", "an", "the"}
_SEGMENT = re.compile(
    r"(?:[^\[\n]|\[(?!\s*[0-9\u06F0-\u06F9\u0660-\u0669]+\s*\]))+(?:\s*" + _MARKERS.pattern + r")*"
)

Progress = Callable[[int, int, str], None]
Judge = Callable[[list[tuple[str, list[str]]], str], list[bool]]


# --- text measures ----------------------------------------------------------------------
def answer_tokens(text: str) -> list[str]:
    """Normalized words of an answer (no markers, punctuation or English articles)."""
    text = _MARKERS.sub(" ", text)
    words = _PUNCT.sub(" ", normalize(text)).split()
    return [w for w in words if w not in _ARTICLES]


def contains(answer: str, golds: Iterable[str]) -> bool:
    hay = " " + " ".join(answer_tokens(answer)) + " "
    return any((needle := " ".join(answer_tokens(g))) and f" {needle} " in hay for g in golds)


def token_f1(answer: str, golds: Iterable[str]) -> float:
    pred = answer_tokens(answer)
    best = 0.0
    for gold in golds:
        ref = answer_tokens(gold)
        common = sum((Counter(pred) & Counter(ref)).values())
        if not pred or not ref or not common:
            continue
        p, r = common / len(pred), common / len(ref)
        best = max(best, 2 * p * r / (p + r))
    return best


def sentences_with_citations(answer: str) -> list[tuple[str, list[int]]]:
    """The answer cut after each group of citation markers (or line end): (text, numbers)."""
    out = []
    for m in _SEGMENT.finditer(answer):
        part = m.group().strip()
        text = _MARKERS.sub("", part).strip()
        if len(answer_tokens(text)) >= 2:
            out.append((text, parse_markers(part)))
    return out


def lexically_supported(sentence: str, passages: list[str], lang: str) -> bool:
    words = set(analyze(sentence, lang))
    if not words:
        return True
    held: set[str] = set()
    for p in passages:
        held |= set(analyze(p, lang))
    return len(words & held) / len(words) >= SUPPORT


# --- one case ---------------------------------------------------------------------------
@dataclass(frozen=True)
class GoldSpan:
    doc_ids: tuple[str, ...]  # the index's ids for the gold document
    start: int
    end: int  # (0, 0): the whole document
    lang: str


def _overlaps(doc_id: str, start: int, end: int, g: GoldSpan) -> bool:
    if doc_id not in g.doc_ids:
        return False
    return g.end == 0 or (start < g.end and g.start < end)


def _retrieval(hits: list[Hit], gold: list[GoldSpan]) -> dict[str, float]:
    if not gold:
        return {}
    rel = [
        [i for i, g in enumerate(gold) if _overlaps(h.doc.doc_id, h.chunk.start, h.chunk.end, g)]
        for h in hits
    ]
    out: dict[str, float] = {}
    for k in CUTOFFS:
        covered = {i for r in rel[:k] for i in r}
        out[f"recall@{k}"] = len(covered) / len(gold)
    first = next((n for n, r in enumerate(rel[:10], 1) if r), None)
    out["mrr@10"] = 1.0 / first if first else 0.0
    dcg = sum(1.0 / math.log2(n + 1) for n, r in enumerate(rel[:10], 1) if r)
    ideal = sum(1.0 / math.log2(n + 1) for n in range(1, min(len(gold), 10) + 1))
    out["ndcg@10"] = min(1.0, dcg / ideal)
    out["first_rank"] = float(next((n for n, r in enumerate(rel, 1) if r), 0))
    return out


def evaluate_case(
    engine: Engine,
    case: TestCase,
    gold: list[GoldSpan],
    judge: Judge | None = None,
) -> dict[str, Any]:
    """Ask one question and score everything about the outcome."""
    lang = case.question_lang
    tokens = engine.tokens_used()
    t0 = time.perf_counter()
    answer: Answer = engine.ask(case.question)
    latency = (time.perf_counter() - t0) * 1000
    tokens = engine.tokens_used() - tokens
    ranked = engine.search(case.question, k=DEPTH)
    lang = lang or answer.question_lang
    doc_langs = {g.lang for g in gold}
    direction = "none" if not gold else "same-language" if doc_langs == {lang} else "cross-lingual"
    out: dict[str, Any] = {
        "id": case.id,
        "question": case.question,
        "question_lang": lang,
        "tags": list(case.tags),
        "answerable": case.answerable,
        "direction": direction,
        "answers": list(case.answers),
        "gold": [{"doc_id": g.doc_id, "quote": g.quote} for g in case.gold],
        "answer": answer.answer,
        "abstained": answer.abstained,
        "latency_ms": round(latency, 2),
        "tokens": tokens,
        "warnings": list(answer.warnings),
    }
    cits: list[dict[str, Any]] = []
    for c in answer.citations:
        correct = any(_overlaps(c.doc_id, c.passage_start, c.passage_end, g) for g in gold) or (
            case.answerable and contains(c.quote, case.answers)
        )
        cits.append(
            {"n": c.n, "doc_id": c.doc_id, "lang": c.lang, "quote": c.quote, "correct": correct}
        )
    out["citations"] = cits
    out["passages"] = [
        {
            "doc_id": h.doc.doc_id,
            "lang": h.chunk.lang,
            "start": h.chunk.start,
            "end": h.chunk.end,
            "relevant": any(_overlaps(h.doc.doc_id, h.chunk.start, h.chunk.end, g) for g in gold),
        }
        for h in ranked[:10]
    ]
    answered = not answer.abstained
    if case.answerable:
        out["retrieval"] = _retrieval(ranked, gold)
        out["contains"] = answered and contains(answer.answer, case.answers)
        out["f1"] = round(token_f1(answer.answer, case.answers), 4) if answered else 0.0
        covered = {
            i
            for c in answer.citations
            for i, g in enumerate(gold)
            if _overlaps(c.doc_id, c.passage_start, c.passage_end, g)
        }
        out["citation_recall"] = len(covered) / len(gold) if gold else 0.0
        out["citation_precision"] = (
            sum(1 for c in cits if c["correct"]) / len(cits) if cits else None
        )
        out["ok"] = bool(out["contains"])
    else:
        out["ok"] = answer.abstained
    if answered:
        out.update(_faithfulness(engine, answer, judge))
    return out


def _faithfulness(engine: Engine, answer: Answer, judge: Judge | None) -> dict[str, Any]:
    by_n = {c.n: c for c in answer.citations}
    parts = sentences_with_citations(answer.answer)
    items: list[tuple[str, list[str]]] = []
    for text, numbers in parts:
        passages = []
        for n in numbers:
            c = by_n.get(n)
            if c is not None:
                passages.append(engine.reader.doc(c.doc_id)[1][c.passage_start : c.passage_end])
        items.append((text, passages))
    if not items:
        return {"faithfulness": None}
    if judge is not None:
        verdicts = judge(items, answer.question_lang)
        how = "judge"
    else:
        verdicts = [bool(p) and lexically_supported(t, p, answer.question_lang) for t, p in items]
        how = "lexical"
    return {
        "faithfulness": round(sum(verdicts) / len(verdicts), 4),
        "faithfulness_by": how,
        "unsupported": [t for (t, _), ok in zip(items, verdicts, strict=True) if not ok],
    }


# --- aggregation ------------------------------------------------------------------------
def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return round(s[min(len(s) - 1, int(q * len(s)))], 2)


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Every figure over ``rows`` (None where no question measures it)."""
    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]
    abstained = [r for r in rows if r["abstained"]]
    out: dict[str, Any] = {"n": len(rows), "answerable": len(ans), "unanswerable": len(una)}
    for key in [f"recall@{k}" for k in CUTOFFS] + ["mrr@10", "ndcg@10"]:
        out[key] = _mean([r["retrieval"][key] for r in ans if r.get("retrieval")])
    out["citation_precision"] = _mean(
        [r["citation_precision"] for r in ans if r.get("citation_precision") is not None]
    )
    out["citation_recall"] = _mean([r["citation_recall"] for r in ans])
    out["answer_contains"] = _mean([float(r["contains"]) for r in ans])
    out["answer_f1"] = _mean([r["f1"] for r in ans])
    true_abstain = sum(1 for r in abstained if not r["answerable"])
    out["abstain_precision"] = round(true_abstain / len(abstained), 4) if abstained else None
    out["abstain_recall"] = round(true_abstain / len(una), 4) if una else None
    out["faithfulness"] = _mean(
        [r["faithfulness"] for r in rows if r.get("faithfulness") is not None]
    )
    lat = [r["latency_ms"] for r in rows]
    out["latency_ms_p50"] = _pct(lat, 0.5)
    out["latency_ms_p95"] = _pct(lat, 0.95)
    out["tokens_total"] = sum(r.get("tokens", 0) for r in rows)
    out["ok"] = _mean([float(r["ok"]) for r in rows])
    return out


def breakdowns(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    groups: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        groups["question_lang"][r["question_lang"] or "?"].append(r)
        groups["direction"][r["direction"]].append(r)
        for tag in r["tags"]:
            groups["tag"][tag].append(r)
    return {g: {k: summarize(v) for k, v in sorted(d.items())} for g, d in groups.items()}


# --- the run ----------------------------------------------------------------------------
def resolve_gold(engine: Engine, testset: TestSet) -> tuple[dict[str, list[GoldSpan]], list[str]]:
    """Each case's gold entries as spans in the index, and problems found (a document that
    is not in the index, a quote that is not in its document)."""
    ids = [d.doc_id for d in engine.reader.documents()]
    by_name: dict[str, list[str]] = defaultdict(list)
    for doc_id in ids:
        by_name[doc_id].append(doc_id)
        for sep in ("/", "#"):
            if sep in doc_id:
                by_name[doc_id.rsplit(sep, 1)[1]].append(doc_id)
    spans: dict[str, list[GoldSpan]] = {}
    problems: list[str] = []
    for case in testset.cases:
        out = []
        for g in case.gold:
            matches = tuple(dict.fromkeys(by_name.get(g.doc_id, [])))
            if not matches:
                problems.append(
                    f"{case.id}: gold document {g.doc_id!r} is not in the index; ingest it "
                    "or pass the corpus with --corpus"
                )
                continue
            info, text = engine.reader.doc(matches[0])
            start = end = 0
            if g.quote:
                start = text.find(g.quote)
                if start < 0:
                    problems.append(
                        f"{case.id}: the gold quote is not in {g.doc_id} as written; copy it "
                        f"from the document: {g.quote[:60]!r}"
                    )
                    start = 0
                else:
                    end = start + len(g.quote)
            out.append(GoldSpan(matches, start, end, info.lang))
        spans[case.id] = out
    return spans, problems


def run(
    engine: Engine,
    testset: TestSet,
    *,
    judge: Judge | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Evaluate every case of ``testset`` against ``engine``; the full report as data."""
    spans, problems = resolve_gold(engine, testset)
    rows = []
    n = len(testset.cases)
    t0 = time.perf_counter()
    for i, case in enumerate(testset.cases):
        rows.append(evaluate_case(engine, case, spans[case.id], judge))
        if progress:
            progress(i + 1, n, case.id)
    return {
        "testset": testset.name,
        "n_questions": n,
        "seconds": round(time.perf_counter() - t0, 2),
        "mode": engine.mode_label,
        "problems": problems,
        "metrics": summarize(rows),
        "by": breakdowns(rows),
        "questions": rows,
    }
