"""Evaluation reports: the terminal table, the self-contained HTML page, comparing two runs."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from rag.eval_report import compare, format_comparison, format_table, write_html

HOSTILE = "<script>alert(1)</script>"
FA_QUESTION = "پایتخت ایران کجاست؟"
FA_QUOTE = "تهران پایتخت ایران است."
AR_QUESTION = "ما هي عاصمة مصر؟"
AR_QUOTE = "القاهرة هي عاصمة مصر."


def _figures(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "n": 3,
        "answerable": 2,
        "unanswerable": 1,
        "recall@1": 0.5,
        "recall@5": 0.9,
        "recall@20": 1.0,
        "mrr@10": 0.75,
        "ndcg@10": 0.8,
        "citation_precision": 0.6667,
        "citation_recall": 0.5,
        "answer_contains": 0.5,
        "answer_f1": 0.42,
        "abstain_precision": None,
        "abstain_recall": 0.0,
        "faithfulness": 0.875,
        "latency_ms_p50": 120.0,
        "latency_ms_p95": 340.5,
        "ok": 0.3333,
    }
    base.update(over)
    return base


def _question(qid: str, ok: bool, **over: Any) -> dict[str, Any]:
    q: dict[str, Any] = {
        "id": qid,
        "question": f"question {qid}",
        "question_lang": "en",
        "tags": ["basic"],
        "answerable": True,
        "direction": "same-language",
        "answers": ["answer"],
        "gold": [{"doc_id": "doc.txt", "quote": "quote"}],
        "answer": "answer [1]",
        "abstained": False,
        "latency_ms": 100.0,
        "citations": [],
        "passages": [],
        "retrieval": {
            "recall@1": 1.0,
            "recall@5": 1.0,
            "recall@20": 1.0,
            "mrr@10": 1.0,
            "ndcg@10": 1.0,
            "first_rank": 1.0,
        },
        "contains": ok,
        "f1": 1.0 if ok else 0.0,
        "citation_recall": 1.0,
        "citation_precision": 1.0,
        "ok": ok,
        "faithfulness": 1.0,
        "unsupported": [],
    }
    q.update(over)
    return q


def make_report() -> dict[str, Any]:
    fa = _question(
        "fa-1",
        False,
        question=FA_QUESTION,
        question_lang="fa",
        tags=["capital", "persian"],
        direction="same-language",
        answers=["تهران"],
        gold=[{"doc_id": "fa/iran.txt", "quote": FA_QUOTE}],
        answer="پایتخت ایران اصفهان است [1].",
        citations=[
            {"n": 1, "doc_id": "fa/iran.txt", "lang": "fa", "quote": FA_QUOTE, "correct": True},
            {"n": 2, "doc_id": "evil.html", "lang": "en", "quote": HOSTILE, "correct": False},
        ],
        unsupported=["پایتخت ایران اصفهان است"],
        f1=0.25,
        retrieval={
            "recall@1": 0.0,
            "recall@5": 0.0,
            "recall@20": 1.0,
            "mrr@10": 0.0,
            "ndcg@10": 0.0,
            "first_rank": 12.0,
        },
    )
    ar = _question(
        "ar-1",
        True,
        question=AR_QUESTION,
        question_lang="ar",
        tags=["capital"],
        direction="cross-lingual",
        answers=["القاهرة"],
        gold=[{"doc_id": "en/egypt.txt", "quote": "Cairo is the capital of Egypt."}],
        answer="القاهرة هي عاصمة مصر [1].",
        citations=[
            {"n": 1, "doc_id": "ar/misr.txt", "lang": "ar", "quote": AR_QUOTE, "correct": True}
        ],
    )
    un = _question(
        "en-u",
        False,
        question="Who won the 2090 World Cup?",
        answerable=False,
        direction="none",
        answers=[],
        gold=[],
        answer=f"Brazil won, says {HOSTILE}",
        tags=["unanswerable"],
        unsupported=[f"Brazil won, says {HOSTILE}"],
    )
    for key in ("retrieval", "contains", "f1", "citation_recall", "citation_precision"):
        un.pop(key)
    return {
        "testset": "mini <b>set</b>",
        "n_questions": 3,
        "seconds": 1.5,
        "mode": "offline",
        "problems": ["fa-2: the gold quote is not in fa/x.txt as written"],
        "metrics": _figures(),
        "by": {
            "question_lang": {
                "ar": _figures(n=1, ok=1.0, **{"recall@5": 1.0}),
                "en": _figures(n=1, ok=0.0, **{"recall@5": None}, answer_f1=None),
                "fa": _figures(n=1, ok=0.0, **{"recall@5": 0.0}),
            },
            "direction": {
                "cross-lingual": _figures(n=1, **{"recall@5": 1.0}),
                "none": _figures(n=1, **{"recall@5": None}),
                "same-language": _figures(n=1, **{"recall@5": 0.0}),
            },
            "tag": {
                "capital": _figures(n=2),
                "persian": _figures(n=1),
                "unanswerable": _figures(n=1),
            },
        },
        "questions": [fa, ar, un],
    }


# --- terminal table ---------------------------------------------------------------------
def test_table_shows_overall_figures_groups_and_dash_for_none() -> None:
    text = format_table(make_report())
    for group in ("Retrieval", "Citations", "Answers", "Abstention", "Faithfulness", "Latency"):
        assert group in text
    assert "R@5 0.900" in text
    assert "MRR@10 0.750" in text
    assert "p95 340.5 ms" in text
    # abstain_precision is None overall: a dash, not "None".
    abst = next(line for line in text.splitlines() if line.startswith("Abstention"))
    assert "precision -" in abst
    assert "None" not in text


def test_table_has_a_row_per_breakdown_value_with_dashes() -> None:
    lines = format_table(make_report()).splitlines()
    for title in ("By question language", "By direction", "By tag"):
        assert title in lines
    en_row = next(line for line in lines if line.split()[:1] == ["en"])
    cells = en_row.split()
    # en: R@5 None and F1 None, ok 0.000, n 1 (last column).
    assert cells[1] == "-"
    assert cells[6] == "-"
    assert cells[-2:] == ["0.000", "1"]
    ar_row = next(line for line in lines if line.split()[:1] == ["ar"])
    assert ar_row.split()[1] == "1.000"
    # Directions come in a fixed order.
    order = [
        line.split()[0]
        for line in lines
        if line.split()[:1] in (["same-language"], ["cross-lingual"], ["none"])
    ]
    assert order == ["same-language", "cross-lingual", "none"]


def test_table_lists_problems_and_failed_count() -> None:
    text = format_table(make_report())
    assert "Problems (1)" in text
    assert "fa-2: the gold quote" in text
    assert "Failed questions: 2 of 3" in text
    assert "fa-1, en-u" in text


def test_table_tolerates_missing_parts_and_shows_extra_figures() -> None:
    report = {"testset": "t", "metrics": _figures(tokens_total=1234), "questions": []}
    text = format_table(report)
    assert "tokens_total 1234" in text
    assert "Failed questions: 0 of 0" in text
    assert "Problems" not in text


# --- HTML -------------------------------------------------------------------------------
@pytest.fixture
def page(tmp_path: Path) -> str:
    path = write_html(make_report(), tmp_path / "out")
    assert path == tmp_path / "out" / "index.html"
    assert path.is_file()
    return path.read_text("utf-8")


def test_html_is_self_contained(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "<link" not in page.lower()
    assert "<script" not in page.lower()  # neither ours nor the document's
    assert "@import" not in page and "url(" not in page
    assert "<style>" in page
    assert "Vazirmatn, Noto Naskh Arabic, Tahoma, sans-serif" in page


def test_html_escapes_hostile_text(page: str) -> None:
    assert HOSTILE not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # The test set name carries markup too: escaped in the header and title.
    assert "<b>set</b>" not in page
    assert "mini &lt;b&gt;set&lt;/b&gt;" in page


def test_html_lays_out_persian_and_arabic_right_to_left(page: str) -> None:
    assert re.search(r'<p dir="rtl" lang="fa" class="question">' + re.escape(FA_QUESTION), page)
    assert re.search(r'<blockquote dir="rtl" lang="fa">' + re.escape(FA_QUOTE), page)  # citation
    assert f'<td dir="rtl" lang="ar" class="qtext">{AR_QUESTION}</td>' in page
    # A gold quote of unknown language is left to the browser.
    assert f'<blockquote dir="auto">{FA_QUOTE}</blockquote>' in page


def test_html_has_charts_cards_questions_and_failures(page: str) -> None:
    assert page.count("<svg") == 3  # question language, direction, tag
    assert "<rect" in page
    assert "Recall@5" in page and "0.900" in page
    # Every question is in the table; only failed ones are in Failures.
    for qid in ("fa-1", "ar-1", "en-u"):
        assert f">{qid}<" in page
    failures = page[page.index("<h2>Failures (2)</h2>") :]
    assert "fa-1" in failures and "en-u" in failures
    assert "ar-1" not in failures
    assert "✗ incorrect" in failures and "✓ correct" in failures
    assert "Unsupported sentences" in failures
    assert "evil.html" in failures
    assert "Gold quotes" in failures
    assert "fa-2: the gold quote" in page  # problems


def test_html_shows_tokens_when_present(tmp_path: Path) -> None:
    report = make_report()
    report["metrics"]["tokens_total"] = 4321
    report["questions"][0]["tokens"] = {"prompt": 100, "completion": 23}
    page = write_html(report, tmp_path).read_text("utf-8")
    assert "4321" in page
    assert "<th>tokens</th>" in page
    assert ">123<" in page


# --- comparison -------------------------------------------------------------------------
def _two_runs() -> tuple[dict[str, Any], dict[str, Any]]:
    old = make_report()
    new = copy.deepcopy(old)
    return old, new


def test_compare_flags_a_drop_beyond_tolerance_and_lists_regressed_questions() -> None:
    old, new = _two_runs()
    new["metrics"]["recall@5"] = 0.5
    new["questions"][1]["ok"] = False  # ar-1 passed before
    c = compare(old, new, 0.05)
    assert "recall@5" in c.regressions
    assert c.regressed == ["ar-1"]
    assert c.regressed_beyond_tolerance
    row = next(m for m in c.metrics if m[0] == "recall@5")
    assert row == ("recall@5", 0.9, 0.5, -0.4)
    text = format_comparison(c)
    assert "-0.400" in text and "REGRESSION" in text
    assert "ar-1" in text and AR_QUESTION in text


def test_compare_does_not_flag_a_drop_within_tolerance() -> None:
    old, new = _two_runs()
    new["metrics"]["recall@5"] = 0.85  # exactly the tolerance: not beyond it
    new["metrics"]["answer_f1"] = 0.40
    c = compare(old, new, 0.05)
    assert c.regressions == []
    assert c.regressed == []
    assert not c.regressed_beyond_tolerance
    assert "No regression" in format_comparison(c)
    # The same drops with a tighter tolerance are regressions.
    assert compare(old, new, 0.01).regressions == ["recall@5", "answer_f1"]


def test_compare_never_flags_latency_or_tokens() -> None:
    old, new = _two_runs()
    old["metrics"]["tokens_total"] = 100
    new["metrics"]["tokens_total"] = 10_000
    new["metrics"]["latency_ms_p50"] = 99_999.0
    new["metrics"]["latency_ms_p95"] = 1.0
    c = compare(old, new, 0.0)
    assert c.regressions == []
    assert not c.regressed_beyond_tolerance
    assert {m[0] for m in c.metrics}.isdisjoint({"latency_ms_p50", "tokens_total", "n"})
    costs = {m[0]: m for m in c.costs}
    assert costs["latency_ms_p50"] == ("latency_ms_p50", 120.0, 99_999.0, 99_879.0)
    assert "tokens_total" in costs
    text = format_comparison(c)
    assert "+99879.0 ms" in text and "+9900" in text


def test_compare_reports_improvements_and_added_removed_questions() -> None:
    old, new = _two_runs()
    new["metrics"]["recall@5"] = 1.0
    new["questions"][0]["ok"] = True  # fa-1 failed before
    new["questions"][2]["ok"] = True  # en-u: now abstains
    new["questions"][1]["f1"] = 1.0  # unchanged score: not an improvement
    del new["questions"][2]
    new["questions"].append(_question("new-1", True))
    c = compare(old, new, 0.05)
    assert c.improved == ["fa-1"]
    assert c.regressed == []
    assert c.added == ["new-1"] and c.removed == ["en-u"]
    assert ("recall@5", 0.9, 1.0, 0.1) in c.metrics
    text = format_comparison(c)
    assert "+0.100" in text
    assert "Improved (1):" in text and FA_QUESTION in text
    assert "Added: new-1" in text and "Removed: en-u" in text


def test_compare_counts_a_rising_score_as_improved() -> None:
    old, new = _two_runs()
    new["questions"][0]["f1"] = 0.8  # fa-1 still fails, but closer
    assert compare(old, new, 0.05).improved == ["fa-1"]


def test_compare_flags_many_regressed_questions_without_figure_drops() -> None:
    old, new = _two_runs()
    old["questions"][0]["ok"] = True
    c = compare(old, new, 0.2)  # 1 of 3 questions regressed: 33% > 20%
    assert c.regressions == []
    assert c.regressed == ["fa-1"]
    assert c.regressed_beyond_tolerance
    assert not compare(old, new, 0.5).regressed_beyond_tolerance


def test_compare_skips_figures_missing_or_none_in_one_run() -> None:
    old, new = _two_runs()
    del new["metrics"]["ndcg@10"]
    new["metrics"]["faithfulness"] = None
    c = compare(old, new, 0.05)
    names = {m[0] for m in c.metrics}
    assert "ndcg@10" not in names
    assert ("faithfulness", 0.875, None, None) in c.metrics
    assert "faithfulness" not in c.regressions
    with pytest.raises(ValueError):
        compare(old, new, -0.1)
