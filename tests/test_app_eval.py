"""The Evaluate page, driven headless with streamlit.testing against the samples index.

The small test set below asks about the bundled samples (data/samples, the ``built_index``
fixture) in Persian, Arabic and English. One answerable question is rigged to fail: its gold
answer ("Zanzibar") is in no document, so whatever Manba answers, it fails, and the page must
list it among the failures. One question is unanswerable.
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    ROOT,
    SAMPLE_AR,
    SAMPLE_EN,
    SAMPLE_EN2,
    SAMPLE_FA,
    SAMPLES,
    read_text,
    sample_id,
)
from streamlit.testing.v1 import AppTest

from rag import answer_eval
from rag.config import Settings
from rag.engine import Engine
from rag.errors import IngestError
from rag.testset import load_testset
from ui import evaluate
from ui.evaluate import (
    BUNDLED,
    STATE,
    EvalRun,
    figures_frame,
    md,
    parse_upload,
    share,
    tag_frame,
)

APP = str(ROOT / "app.py")
TIMEOUT = 120
RIGGED = "fa-wrong-gold"

CASES: list[dict[str, Any]] = [
    {
        "id": "en-sochi-year",
        "question": "In what year did Russia and Turkey sign the Sochi agreement on Idlib?",
        "question_lang": "en",
        "answers": ["2018", "September 2018"],
        "gold": [
            {
                "doc_id": sample_id(SAMPLE_EN),
                "quote": "Russia and Turkey signed a deal in Sochi in September 2018",
            },
            {
                "doc_id": sample_id(SAMPLE_FA),
                "quote": "اواخر تابستان سال ۲۰۱۸ میلادی، سران روسیه و ترکیه در سوچی روسیه "
                "به توافقی دست یافتند",
            },
        ],
        "answerable": True,
        "tags": ["date"],
    },
    {
        "id": "ar-summit-date",
        "question": "في أي تاريخ اقترح أردوغان عقد القمة الرباعية حول سوريا في إسطنبول؟",
        "question_lang": "ar",
        "answers": ["5 مارس"],
        "gold": [
            {
                "doc_id": sample_id(SAMPLE_AR),
                "quote": "من أجل تنظيم قمة رباعية (تركية، روسية، ألمانية، فرنسية) حول سوريا في "
                "إسطنبول، بتاريخ 5 مارس المقبل.",
            }
        ],
        "answerable": True,
        "tags": ["date", "event"],
    },
    {
        "id": RIGGED,
        "question": "روسیه و ترکیه توافق خود درباره ادلب را در کدام شهر امضا کردند؟",
        "question_lang": "fa",
        "answers": ["زنگبار", "Zanzibar"],
        "gold": [
            {
                "doc_id": sample_id(SAMPLE_EN2),
                "quote": "On September 17, during talks at the Russian resort city of Sochi",
            }
        ],
        "answerable": True,
        "tags": ["place"],
    },
    {
        "id": "en-peru",
        "question": "What is the capital of Peru?",
        "question_lang": "en",
        "answers": [],
        "gold": [],
        "answerable": False,
        "tags": ["unanswerable"],
    },
]


def jsonl(rows: list[Any]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()


def ok(at: AppTest) -> AppTest:
    assert not at.exception, at.exception
    return at


def open_evaluate(monkeypatch: pytest.MonkeyPatch, index_dir: Path) -> AppTest:
    monkeypatch.setenv("MANBA_INDEX_DIR", str(index_dir))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    ok(at.run())
    ok(at.sidebar.radio(key="page").set_value("Evaluate").run())
    assert "Evaluate" in [h.value for h in at.header]
    return at


def upload(at: AppTest, name: str, content: bytes) -> AppTest:
    ok(at.radio(key="eval-source").set_value("upload").run())
    ok(at.get("file_uploader")[0].set_value((name, content, "application/jsonl")).run())
    return at


def run_button(at: AppTest) -> Any:
    return at.button(key="eval-run-button")


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def markdowns(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


@pytest.fixture
def counted_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times the page called answer_eval.run (one entry per call)."""
    calls: list[int] = []
    real = answer_eval.run

    def run(*args: Any, **kwargs: Any) -> dict[str, Any]:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(answer_eval, "run", run)
    return calls


def test_fixture_quotes_are_verbatim() -> None:
    for case in CASES:
        for g in case["gold"]:
            assert g["quote"] in read_text(SAMPLES / g["doc_id"]), (case["id"], g["quote"])


def test_evaluate_uploaded_testset_shows_figures_and_failures(
    monkeypatch: pytest.MonkeyPatch, built_index: Settings, counted_runs: list[int]
) -> None:
    at = upload(open_evaluate(monkeypatch, built_index.index_dir), "small.jsonl", jsonl(CASES))
    assert not at.error, [e.value for e in at.error]
    assert any("4 questions (3 answerable, 1 unanswerable)" in c.value for c in at.caption)
    assert not run_button(at).disabled
    ok(run_button(at).click().run())
    assert not at.error, [e.value for e in at.error]
    assert counted_runs == [1]

    done = at.session_state[STATE]
    assert isinstance(done, EvalRun)
    report = done.report
    assert report["n_questions"] == 4
    assert report["problems"] == [], "every gold quote is in the index"
    assert not at.warning or all("declined" in w.value for w in at.warning)

    # Every card shows the report's figure, formatted.
    shown = metrics(at)
    for fig in evaluate.CARDS:
        assert shown[fig.label] == fig.fmt(report["metrics"][fig.key]), fig.label
    assert shown["Questions right"] != "—"
    assert shown["Recall@5"].endswith("%")
    assert shown["Latency p50"].endswith(" ms")
    # The rigged question cannot be right, so not everything is.
    assert report["metrics"]["ok"] < 1
    assert shown["Questions right"] == share(report["metrics"]["ok"])

    # Charts by language and by direction, the tag table.
    assert len(at.get("vega_lite_chart")) == 2
    (table,) = at.dataframe
    assert {"date", "event", "place", "unanswerable"} <= set(table.value.index)
    assert table.value.loc["date", "Questions"] == 2

    # Failures: one expander per failed question, the rigged one among them.
    failed = [q for q in report["questions"] if not q["ok"]]
    assert RIGGED in {q["id"] for q in failed}
    assert any(s.value == f"Failures ({len(failed)} of 4)" for s in at.subheader)
    labels = [e.label for e in at.expander if e.label != "Model (connected mode)"]
    assert len(labels) == len(failed)
    assert any(label.startswith(md(RIGGED)) for label in labels)
    assert set(done.answers) == {q["id"] for q in failed}, "the failed answers are kept"

    # The rigged failure: its Persian question right to left, its gold, the cited passages as
    # cards like the Ask page's, keyed by the failure.
    rigged = next(e for e in at.expander if e.label.startswith(md(RIGGED)))
    texts = [m.value for m in rigged.markdown]
    question = next(t for t in texts if "کدام شهر" in html.unescape(t))
    assert 'dir="rtl"' in question and 'lang="fa"' in question
    assert any("Zanzibar" in html.unescape(t) for t in texts), "the gold answers are shown"
    assert any(sample_id(SAMPLE_EN2) in html.unescape(t) for t in texts), "the gold document"
    answer = done.answers[RIGGED]
    if answer.citations:
        cards = [t for t in texts if 'class="manba-card"' in t]
        assert len(cards) == len(answer.citations)
        assert all('id="cite-eval' in c for c in cards)
        assert any("<mark>" in c for c in cards), "the cited sentence is highlighted"
    else:
        assert any('class="manba-hit-head"' in t for t in texts)

    # The report downloads as JSON.
    assert [b.label for b in at.get("download_button")] == ["Download the report (JSON)"]

    # Another rerun (any widget) shows the same report without evaluating again.
    ok(at.run())
    assert counted_runs == [1]
    assert at.session_state[STATE] is done
    assert metrics(at) == shown


def test_evaluate_broken_upload_names_the_line(
    monkeypatch: pytest.MonkeyPatch, built_index: Settings, counted_runs: list[int]
) -> None:
    broken = dict(CASES[0])
    del broken["answers"]
    at = upload(
        open_evaluate(monkeypatch, built_index.index_dir),
        "broken.jsonl",
        jsonl([CASES[1], broken]),
    )
    assert len(at.error) == 1
    message = at.error[0].value
    assert "broken" in message and ":2" in message and "answers" in message, message
    assert "Traceback" not in message and "/tmp" not in message, message
    assert run_button(at).disabled
    assert counted_runs == []


def test_evaluate_bundled_testset_is_the_default(
    monkeypatch: pytest.MonkeyPatch, built_index: Settings
) -> None:
    at = open_evaluate(monkeypatch, built_index.index_dir)
    assert at.radio(key="eval-source").value == "bundled"
    n = len(load_testset(BUNDLED).cases)
    assert any(c.value.startswith(f"{n} questions") for c in at.caption)
    assert not at.error and not at.metric
    ok(run_button(at).click().run())
    assert not at.error, [e.value for e in at.error]
    report = at.session_state[STATE].report
    assert report["testset"] == BUNDLED.stem and report["n_questions"] == n
    # The fixture index is the bundled samples: every gold entry is found, no problem shown.
    assert report["problems"] == []
    assert len(at.metric) == len(evaluate.CARDS)


def test_evaluate_without_index_says_how_to_build_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "no-index-here"
    monkeypatch.setenv("MANBA_INDEX_DIR", str(missing))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    ok(at.run())
    ok(at.sidebar.radio(key="page").set_value("Evaluate").run())
    assert at.error and "make index" in at.error[0].value
    # only the sidebar's model form is there: no run button, no figures
    assert [b.label for b in at.button] == ["Apply"] and not at.metric
    assert not missing.exists()


def test_evaluate_shows_a_kept_report_and_asks_again_for_missing_answers(
    monkeypatch: pytest.MonkeyPatch, built_index: Settings, engine: Engine
) -> None:
    """A report kept without its answers (or from an earlier index) still shows its failures:
    the page asks the failed questions again, and says the index changed."""
    done = evaluate.evaluate(engine, parse_upload("small.jsonl", jsonl(CASES)), "small")
    at = open_evaluate(monkeypatch, built_index.index_dir)
    at.session_state[STATE] = dataclasses.replace(done, answers={}, generation=-1)
    ok(at.run())
    assert not at.error, [e.value for e in at.error]
    assert any("index has changed" in i.value for i in at.info)
    rigged = next(e for e in at.expander if e.label.startswith(md(RIGGED)))
    texts = [m.value for m in rigged.markdown]
    assert any('class="manba-answer"' in t for t in texts), "the answer is shown"
    answer = done.answers[RIGGED]
    head = 'class="manba-card"' if answer.citations else 'class="manba-hit-head"'
    assert any(head in t for t in texts)


# --- helpers, without Streamlit -------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "where", "field"),
    [
        ([CASES[0], {**CASES[1], "question_lang": "de"}], ":2", "question_lang"),
        ([CASES[0], CASES[1], "not json"], ":3", "JSON"),
        ([{k: v for k, v in CASES[0].items() if k != "gold"}], ":1", "gold"),
        ([CASES[0], CASES[0]], ":2", "twice"),
    ],
)
def test_parse_upload_errors_name_the_upload_line_and_field(
    rows: list[Any], where: str, field: str
) -> None:
    content = b"".join(
        (r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)).encode() + b"\n"
        for r in rows
    )
    with pytest.raises(IngestError) as exc:
        parse_upload("../my set.jsonl", content)
    message = str(exc.value)
    assert message.startswith(f"my set.jsonl{where}: "), message
    assert field in message, message


def test_parse_upload_reads_a_good_file() -> None:
    testset = parse_upload("small.jsonl", jsonl(CASES))
    assert testset.name == "small"
    assert [c.id for c in testset.cases] == [c["id"] for c in CASES]
    with pytest.raises(IngestError, match="no questions"):
        parse_upload("empty.jsonl", b"\n\n")


def test_evaluate_keeps_the_failed_answers(engine: Engine) -> None:
    seen: list[tuple[int, int, str]] = []
    done = evaluate.evaluate(
        engine, parse_upload("small.jsonl", jsonl(CASES)), "small", lambda *a: seen.append(a)
    )
    assert [s[:2] for s in seen] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    failed = {q["id"] for q in done.report["questions"] if not q["ok"]}
    assert RIGGED in failed and set(done.answers) == failed
    assert done.answers[RIGGED].question == CASES[2]["question"]
    assert done.generation == engine.reader.generation


def test_figure_frames_keep_missing_figures_missing() -> None:
    groups = {
        "fa": {"n": 2, "answerable": 2, "recall@5": 0.5, "ok": 1.0},
        "en": {"n": 1, "answerable": 0, "recall@5": None, "ok": 0.0},
    }
    frame = figures_frame(groups, ("recall@5", "ok"), {"fa": "Persian"})
    assert list(frame.index) == ["Persian", "en"]
    assert frame.loc["Persian", "Recall@5"] == 0.5
    assert math.isnan(frame.loc["en", "Recall@5"])
    tags = tag_frame(groups)
    assert list(tags.columns[:2]) == ["Questions", "Answerable"]
    assert tags.loc["fa", "Questions"] == 2


def test_markdown_labels_are_escaped() -> None:
    assert md("[x](javascript:alert(1)) **b**") == (r"\[x\]\(javascript\:alert\(1\)\) \*\*b\*\*")
    assert share(None) == "—" and share(0.5) == "50.0%"
