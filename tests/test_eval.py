"""Evaluation: row ids behind file names with '#', a bad corpus, the engine always closed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import BAD, CORPUS, QA

from rag import evaluation
from rag.config import Settings
from rag.engine import Engine
from rag.evaluation import _row_id, format_report, run_eval

# Rows that ingest takes (a row without id gets a line id) but the plain bm25s baseline must
# skip, and one line that is not JSON at all: a failure for ingest, a skip for the baseline.
NO_ID_ROW = {"title": "No id", "lang": "en", "text": "A corpus row without an id field."}
BROKEN_LINE = "{this is not json"


@pytest.fixture(scope="module")
def hash_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/data/corpus.jsonl plus the two bad lines, in a file whose name holds '#'."""
    path = tmp_path_factory.mktemp("eval") / "news#2024.jsonl"
    lines = CORPUS.read_text("utf-8").splitlines()
    lines += [json.dumps(NO_ID_ROW, ensure_ascii=False), BROKEN_LINE]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


@pytest.fixture(scope="module")
def report(hash_corpus: Path) -> dict[str, Any]:
    return run_eval([hash_corpus], QA, Settings(), [1, 5], ["bm25"], baseline=True)


@pytest.mark.parametrize(
    ("doc_id", "prefixes", "row"),
    [
        ("news#2024.jsonl#en-ecb", ["news#2024.jsonl"], "en-ecb"),
        ("corpus.jsonl#a#b", ["corpus.jsonl"], "a#b"),  # '#' in the row id
        ("اخبار#۱۴۰۲.jsonl#fa-1", ["اخبار#۱۴۰۲.jsonl"], "fa-1"),  # Persian file name
        ("أخبار#٢٠٢٤.jsonl#ar-2", ["أخبار#٢٠٢٤.jsonl"], "ar-2"),  # Arabic file name
        ("mixed#اخبار news.jsonl#x#۳", ["mixed#اخبار news.jsonl"], "x#۳"),  # mixed script
        ("sub#1/x.jsonl#id", ["x.jsonl", "sub#1/x.jsonl"], "id"),  # longest prefix wins
        ("plain.jsonl#id", [], "id"),  # no known prefix: first '#'
        ("notes.txt", ["corpus.jsonl"], "notes.txt"),  # not a JSONL row
    ],
)
def test_row_id(doc_id: str, prefixes: list[str], row: str) -> None:
    assert _row_id(doc_id, prefixes) == row


def test_eval_finds_rows_of_a_file_with_hash_in_its_name(report: dict[str, Any]) -> None:
    assert report["n_questions"] == 6
    assert report["recall@5"] >= 5 / 6, report["modes"]["bm25"]


def test_eval_baseline_skips_bad_rows_and_counts_them(report: dict[str, Any]) -> None:
    assert report["baseline_skipped_rows"] == 2
    assert report["modes"]["baseline_bm25s"]["recall@5"] > 0
    # Ingest gives the id-less row a line id and rejects the broken line.
    assert report["index"]["documents"] == 10
    assert len(report["index"]["failed"]) == 1


def test_format_report_names_failures_and_skips(report: dict[str, Any]) -> None:
    text = format_report(report)
    assert "1 corpus input(s) failed to ingest" in text
    assert "news#2024.jsonl" in text  # the first failure is named
    assert "skipped 2 corpus line(s)" in text


def test_format_report_is_quiet_without_failures(report: dict[str, Any]) -> None:
    clean = {**report, "index": {**report["index"], "failed": []}, "baseline_skipped_rows": 0}
    assert "warning" not in format_report(clean)


def test_baseline_on_the_bad_fixture_does_not_raise() -> None:
    """tests/data/bad/mixed.jsonl: one good row, one broken line, one row without text."""
    scores, skipped = evaluation._baseline(
        [BAD / "mixed.jsonl"],
        [{"question": "wildfire Athens", "gold_passage_id": "ok-1"}],
        [1],
        10,
    )
    assert skipped == 2
    assert scores["recall@1"] == 1.0


def test_engine_is_closed_when_scoring_fails(
    monkeypatch: pytest.MonkeyPatch, hash_corpus: Path
) -> None:
    closed: list[bool] = []

    class Failing(Engine):
        def search(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("search failed")

        def close(self) -> None:
            closed.append(True)
            super().close()

    monkeypatch.setattr(evaluation, "Engine", Failing)
    with pytest.raises(RuntimeError, match="search failed"):
        run_eval([hash_corpus], QA, Settings(), [1], ["bm25"], limit=1)
    assert closed == [True]
