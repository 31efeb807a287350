"""Test sets for answer-quality evaluation, read from three formats into one shape.

- Manba's own JSONL (the bundled ``data/testsets/samples.jsonl``; the format is in the README):
  one question per line with ``id``, ``question``, ``question_lang``, ``answers``, ``gold``
  (``[{doc_id, quote}]``: the exact text that supports the answer), ``answerable``, ``tags``.
- The corpus/qa JSONL pair of ``../shared/data`` (``gold_passage_id`` names a corpus row).
- SQuAD-format JSON (``data[].paragraphs[].{context, qas}``; SQuAD 2.0's ``is_impossible``).

A broken row is an error naming the file, the line (or question id) and the field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import IngestError

LANGS = ("fa", "ar", "en")
_FIELDS = ("id", "question", "question_lang", "answers", "gold", "answerable", "tags")


@dataclass(frozen=True)
class Gold:
    """A supporting passage: ``quote`` occurs verbatim in document ``doc_id`` ("" = anywhere)."""

    doc_id: str
    quote: str = ""


@dataclass(frozen=True)
class TestCase:
    __test__ = False  # not a pytest class, despite the name

    id: str
    question: str
    question_lang: str
    answers: tuple[str, ...]
    gold: tuple[Gold, ...]
    answerable: bool
    tags: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class TestSet:
    """Questions, and the corpus files to index for them (empty: use the configured index)."""

    __test__ = False

    name: str
    cases: tuple[TestCase, ...]
    corpus: tuple[Path, ...] = ()


def _bad(path: Path, line: int, why: str) -> IngestError:
    return IngestError(str(path), why, line=line)


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def parse_case(row: Any, path: Path, line: int) -> TestCase:
    """One row of Manba's JSONL format, checked field by field."""
    if not isinstance(row, dict):
        raise _bad(path, line, "each line must be a JSON object")
    missing = [f for f in _FIELDS if f not in row]
    if missing:
        raise _bad(path, line, f"missing field(s) {', '.join(missing)}; see the README's format")
    if not isinstance(row["id"], str) or not row["id"].strip():
        raise _bad(path, line, "'id' must be a non-empty string")
    if not isinstance(row["question"], str) or not row["question"].strip():
        raise _bad(path, line, "'question' must be a non-empty string")
    if row["question_lang"] not in LANGS:
        raise _bad(path, line, f"'question_lang' must be one of {', '.join(LANGS)}")
    if not _strings(row["answers"]):
        raise _bad(path, line, "'answers' must be a list of strings")
    if not isinstance(row["answerable"], bool):
        raise _bad(path, line, "'answerable' must be true or false")
    if not _strings(row["tags"]):
        raise _bad(path, line, "'tags' must be a list of strings")
    gold = row["gold"]
    if not isinstance(gold, list) or not all(
        isinstance(g, dict) and isinstance(g.get("doc_id"), str) and isinstance(g.get("quote"), str)
        for g in gold
    ):
        raise _bad(path, line, '\'gold\' must be a list of {"doc_id": ..., "quote": ...}')
    if row["answerable"] and not (gold and row["answers"]):
        raise _bad(path, line, "an answerable question needs 'answers' and 'gold'")
    return TestCase(
        id=row["id"],
        question=row["question"],
        question_lang=row["question_lang"],
        answers=tuple(row["answers"]),
        gold=tuple(Gold(g["doc_id"], g["quote"]) for g in gold),
        answerable=row["answerable"],
        tags=tuple(row["tags"]),
    )


def load_testset(path: Path) -> TestSet:
    """Manba's JSONL test set; ids must be unique."""
    cases: list[TestCase] = []
    seen: set[str] = set()
    for line, text in enumerate(_read(path).splitlines(), start=1):
        if not text.strip():
            continue
        try:
            row = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _bad(path, line, f"not valid JSON ({exc.msg})") from exc
        case = parse_case(row, path, line)
        if case.id in seen:
            raise _bad(path, line, f"id {case.id!r} is used twice; ids must be unique")
        seen.add(case.id)
        cases.append(case)
    if not cases:
        raise IngestError(str(path), "has no questions")
    return TestSet(path.stem, tuple(cases))


def from_qa_pair(corpus: list[Path], qa: Path, limit: int = 0) -> TestSet:
    """The shared corpus/qa JSONL pair: the gold is the whole corpus row ``gold_passage_id``."""
    from rag.evaluation import load_questions

    cases: list[TestCase] = []
    for row in load_questions(qa, limit):
        lang = row.get("question_lang") or ""
        passage_lang = row.get("passage_lang") or lang
        tags = ["same-language" if passage_lang == lang else "cross-lingual"]
        cases.append(
            TestCase(
                id=str(row.get("id") or len(cases)),
                question=row["question"],
                question_lang=lang if lang in LANGS else "",
                answers=tuple(row.get("answers") or ())
                + tuple(row.get("answers_question_lang") or ()),
                gold=(Gold(row["gold_passage_id"]),),
                answerable=True,
                tags=tuple(tags),
            )
        )
    return TestSet(qa.stem, tuple(cases), tuple(corpus))


def from_squad(path: Path, out_dir: Path, limit: int = 0) -> TestSet:
    """A SQuAD-format JSON file: its paragraphs become a corpus JSONL in ``out_dir`` (one row
    per paragraph), its questions test cases whose gold is the answer text in that paragraph."""
    try:
        data = json.loads(_read(path))
        articles = data["data"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise IngestError(str(path), 'not SQuAD JSON: expected {"data": [...]}') from exc
    rows: list[dict[str, Any]] = []
    cases: list[TestCase] = []
    for a, article in enumerate(articles):
        for p, para in enumerate(article.get("paragraphs", [])):
            context = para.get("context")
            if not isinstance(context, str) or not context.strip():
                continue
            pid = f"squad.a{a:03d}p{p:02d}"
            rows.append({"id": pid, "title": article.get("title", ""), "text": context})
            for qa in para.get("qas", []):
                question = qa.get("question")
                if not isinstance(question, str) or not question.strip():
                    raise IngestError(str(path), f"question {qa.get('id')!r} has no text")
                answers = [
                    x["text"]
                    for x in qa.get("answers", [])
                    if isinstance(x, dict) and isinstance(x.get("text"), str)
                ]
                impossible = bool(qa.get("is_impossible")) or not answers
                quotes = [x for x in dict.fromkeys(answers) if x in context]
                cases.append(
                    TestCase(
                        id=str(qa.get("id") or f"{pid}q{len(cases)}"),
                        question=question,
                        question_lang="",
                        answers=() if impossible else tuple(dict.fromkeys(answers)),
                        gold=() if impossible else tuple(Gold(pid, q) for q in quotes[:1]),
                        answerable=not impossible,
                        tags=("unanswerable",) if impossible else (),
                    )
                )
    if limit:
        cases = cases[:limit]
    if not cases:
        raise IngestError(str(path), "has no questions")
    out_dir.mkdir(parents=True, exist_ok=True)
    corpus = out_dir / f"{path.stem}.jsonl"
    corpus.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return TestSet(path.stem, tuple(cases), (corpus,))


def _read(path: Path) -> str:
    try:
        return path.read_text("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise IngestError(str(path), f"cannot be read as UTF-8 text ({exc})") from exc
