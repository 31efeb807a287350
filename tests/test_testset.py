"""The hand-written question/answer test set over the bundled samples (data/testsets/samples.jsonl).

Checks the file's shape, that every gold quote is a verbatim span of its document, that the
derived tags (cross-lingual, same-language, multi-doc, unanswerable) agree with the gold
documents' languages, the coverage floors, and the script of each question.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
TESTSET = ROOT / "data" / "testsets" / "samples.jsonl"

# Language of each bundled sample document.
DOC_LANG = {
    "000_eb6d6f74aabc0373.txt": "fa",
    "001_27d85bf53d7b9cbc.txt": "en",
    "002_ec4ddc9ec65b3ea5.txt": "en",
    "003_1012b51fe28bb189.txt": "ar",
}
LANGS = ("fa", "ar", "en")
FIELDS = {"id", "question", "question_lang", "answers", "gold", "answerable", "tags"}
GOLD_FIELDS = {"doc_id", "quote"}
TAGS = {
    "date",
    "number",
    "person",
    "place",
    "quote",
    "multi-doc",
    "cross-lingual",
    "same-language",
    "unanswerable",
    "organization",
    "event",
}
ID_RE = re.compile(r"^(fa|ar|en)-\d{3}$")
MAX_ANSWER_WORDS = 6

ARABIC_YEH, ARABIC_KAF = "\u064a", "\u0643"  # ي ك
PERSIAN_YEH, PERSIAN_KAF = "\u06cc", "\u06a9"  # ی ک
PERSIAN_ONLY = set("پچژگ") | {PERSIAN_YEH, PERSIAN_KAF}

LINES = [line for line in TESTSET.read_text(encoding="utf-8").splitlines() if line.strip()]


def _parse(line: str) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


ROWS: list[dict[str, Any]] = [row for row in map(_parse, LINES) if row is not None]
DOCS = {name: (SAMPLES / name).read_text(encoding="utf-8") for name in DOC_LANG}


def _row_id(row: dict[str, Any]) -> str:
    return str(row.get("id", "?"))


def _gold_docs(row: dict[str, Any]) -> set[str]:
    return {g["doc_id"] for g in row["gold"]}


def _is_arabic_script(ch: str) -> bool:
    cp = ord(ch)
    return (
        0x0600 <= cp <= 0x06FF
        or 0x0750 <= cp <= 0x077F
        or 0x08A0 <= cp <= 0x08FF
        or 0xFB50 <= cp <= 0xFDFF
        or 0xFE70 <= cp <= 0xFEFF
    )


def _is_latin(ch: str) -> bool:
    # Basic Latin, Latin-1 Supplement and Latin Extended-A/B (Erdoğan).
    return ch.isascii() or 0x00C0 <= ord(ch) <= 0x024F


rows_param = pytest.mark.parametrize("row", ROWS, ids=_row_id)


def test_file_exists_and_not_empty() -> None:
    assert TESTSET.is_file()
    assert LINES


def test_doc_map_matches_samples() -> None:
    assert set(DOC_LANG) == {p.name for p in SAMPLES.glob("*.txt")}


@pytest.mark.parametrize("lineno", range(1, len(LINES) + 1))
def test_line_is_json_object(lineno: int) -> None:
    assert _parse(LINES[lineno - 1]) is not None, f"line {lineno} is not a JSON object"


@rows_param
def test_row_schema(row: dict[str, Any]) -> None:
    assert set(row) == FIELDS
    assert isinstance(row["id"], str) and ID_RE.match(row["id"]), row["id"]
    assert row["question_lang"] in LANGS
    assert row["id"].split("-")[0] == row["question_lang"]
    assert isinstance(row["question"], str)
    assert row["question"] == row["question"].strip() and len(row["question"]) >= 10
    assert type(row["answerable"]) is bool
    assert isinstance(row["answers"], list)
    for answer in row["answers"]:
        assert isinstance(answer, str) and answer == answer.strip() and answer
        assert len(answer.split()) <= MAX_ANSWER_WORDS, f"answer too long: {answer!r}"
    assert len(set(row["answers"])) == len(row["answers"]), "duplicate answers"
    assert isinstance(row["gold"], list)
    for gold in row["gold"]:
        assert isinstance(gold, dict) and set(gold) == GOLD_FIELDS
        assert isinstance(gold["doc_id"], str) and isinstance(gold["quote"], str)
    assert isinstance(row["tags"], list) and all(isinstance(t, str) for t in row["tags"])
    assert set(row["tags"]) <= TAGS, set(row["tags"]) - TAGS
    assert len(set(row["tags"])) == len(row["tags"]), "duplicate tags"


def test_every_line_parsed() -> None:
    assert len(ROWS) == len(LINES)


def test_ids_unique() -> None:
    dupes = [i for i, n in Counter(_row_id(r) for r in ROWS).items() if n > 1]
    assert not dupes


def test_questions_unique() -> None:
    dupes = [q for q, n in Counter(r["question"] for r in ROWS).items() if n > 1]
    assert not dupes


@rows_param
def test_gold_quotes_verbatim(row: dict[str, Any]) -> None:
    for gold in row["gold"]:
        assert gold["doc_id"] in DOC_LANG, f"unknown document {gold['doc_id']}"
        assert (SAMPLES / gold["doc_id"]).is_file()
        assert len(gold["quote"]) >= 8, "quote too short to locate a passage"
        assert gold["quote"] in DOCS[gold["doc_id"]], f"not verbatim: {gold['quote'][:60]!r}"
    pairs = [(g["doc_id"], g["quote"]) for g in row["gold"]]
    assert len(set(pairs)) == len(pairs), "duplicate gold quote"


@rows_param
def test_answerable_consistency(row: dict[str, Any]) -> None:
    if row["answerable"]:
        assert row["answers"] and row["gold"]
        assert "unanswerable" not in row["tags"]
    else:
        assert row["answers"] == [] and row["gold"] == []
        assert "unanswerable" in row["tags"]


@rows_param
def test_each_gold_quote_contains_an_answer(row: dict[str, Any]) -> None:
    # The answer is given in the surface form of every gold document that supports it.
    answers = [a.casefold() for a in row["answers"]]
    for gold in row["gold"]:
        quote = gold["quote"].casefold()
        assert any(a in quote for a in answers), (
            f"no answer of {row['answers']} occurs in quote from {gold['doc_id']}"
        )


@rows_param
def test_language_tags_agree_with_gold(row: dict[str, Any]) -> None:
    if not row["gold"]:
        assert "cross-lingual" not in row["tags"] and "same-language" not in row["tags"]
        return
    doc_langs = {DOC_LANG[d] for d in _gold_docs(row)}
    crosses = any(lang != row["question_lang"] for lang in doc_langs)
    assert ("cross-lingual" in row["tags"]) == crosses
    assert ("same-language" in row["tags"]) == (not crosses)


@rows_param
def test_multi_doc_tag_agrees_with_gold(row: dict[str, Any]) -> None:
    assert ("multi-doc" in row["tags"]) == (len(_gold_docs(row)) >= 2)


@rows_param
def test_question_script(row: dict[str, Any]) -> None:
    question, lang = row["question"], row["question_lang"]
    letters = [ch for ch in question if ch.isalpha()]
    assert letters
    if lang == "en":
        bad = [ch for ch in letters if not _is_latin(ch)]
    else:
        bad = [ch for ch in letters if not _is_arabic_script(ch)]
    assert not bad, f"letters outside the {lang} script: {''.join(bad)!r}"
    if lang == "fa":
        assert ARABIC_YEH not in question and ARABIC_KAF not in question
        assert PERSIAN_ONLY & set(question), "no Persian-specific letter"
    if lang == "ar":
        assert PERSIAN_YEH not in question and PERSIAN_KAF not in question


def test_coverage_floors() -> None:
    answerable = [r for r in ROWS if r["answerable"]]
    unanswerable = [r for r in ROWS if not r["answerable"]]
    cross = [r for r in answerable if "cross-lingual" in r["tags"]]
    multi = [r for r in ROWS if "multi-doc" in r["tags"]]
    assert len(ROWS) >= 60
    assert len(unanswerable) >= 10
    assert 3 * len(cross) >= len(answerable)
    assert len(multi) >= 5
    per_lang = Counter(r["question_lang"] for r in ROWS)
    for lang in LANGS:
        assert per_lang[lang] >= 15, (lang, per_lang[lang])
    unanswerable_langs = Counter(r["question_lang"] for r in unanswerable)
    for lang in LANGS:
        assert unanswerable_langs[lang] >= 3, (lang, unanswerable_langs[lang])


@pytest.mark.parametrize("tag", ["date", "number", "person", "place", "quote"])
def test_tag_floor(tag: str) -> None:
    assert sum(tag in r["tags"] for r in ROWS if r["answerable"]) >= 5


def test_same_fact_in_three_languages() -> None:
    # Facts keyed by their gold quotes; some are asked in fa, ar and en alike.
    langs_by_fact: dict[frozenset[tuple[str, str]], set[str]] = {}
    for row in ROWS:
        if row["gold"]:
            key = frozenset((g["doc_id"], g["quote"]) for g in row["gold"])
            langs_by_fact.setdefault(key, set()).add(row["question_lang"])
    assert sum(langs == set(LANGS) for langs in langs_by_fact.values()) >= 3
