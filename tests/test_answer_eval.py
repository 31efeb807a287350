"""Answer-quality evaluation: the measures, the three test-set formats, the CLI (table, --json,
--report, --compare with a deliberately broken retrieval) and the model judge."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from rag import answer_eval
from rag.cli import main
from rag.config import LLMSettings
from rag.engine import Engine
from rag.errors import IngestError
from rag.judge import ModelJudge, parse_verdicts
from rag.llm import ChatModel
from rag.testset import Gold, TestCase, TestSet, from_squad, load_testset
from tests.conftest import ROOT, SAMPLE_AR, SAMPLE_EN, SAMPLE_FA, SAMPLES, sample_id
from tests.openai_server import serve

TESTSET = ROOT / "data" / "testsets" / "samples.jsonl"


# --- the measures ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("answer", "golds", "expected"),
    [
        ("The deal was signed in 2018 in Sochi [1]", ["2018"], True),
        ("توافق در سال ۲۰۱۸ امضا شد [1]", ["2018"], True),  # Persian digits
        ("وقع الاتفاق في العام ٢٠١٨ [2]", ["2018"], True),  # Arabic-Indic digits
        ("رئیس جمهور ترکیه گفت", ["رئيس جمهور تركيه"], True),  # Arabic ي/ك vs Persian ی/ک
        ("Nothing about it [1]", ["2018"], False),
        ("A warning was given", ["war"], False),  # word-bounded, not a substring
        ("The Kremlin said [1]", ["the Kremlin"], True),  # articles ignored
        ("قال الكرملين", ["الکرملین"], True),
    ],
)
def test_containment_normalizes_both_sides(answer: str, golds: list[str], expected: bool) -> None:
    assert answer_eval.contains(answer, golds) is expected


def test_token_f1() -> None:
    assert answer_eval.token_f1("Sochi", ["Sochi"]) == 1.0
    assert answer_eval.token_f1("in Sochi, Russia [1]", ["Sochi"]) == pytest.approx(0.5)
    assert answer_eval.token_f1("سوچی", ["سوتشي"]) == 0.0
    assert answer_eval.token_f1("۳۶ سرباز", ["36"]) == pytest.approx(2 / 3)


def test_sentences_split_after_their_citations() -> None:
    text = "Putin called Erdogan [1][2]\nپوتین با اردوغان تماس گرفت [۳]\nNo source here."
    parts = answer_eval.sentences_with_citations(text)
    assert parts == [
        ("Putin called Erdogan", [1, 2]),
        ("پوتین با اردوغان تماس گرفت", [3]),
        ("No source here.", []),
    ]


@pytest.mark.parametrize(
    ("sentence", "lang", "supported"),
    [
        ("Turkey lost 36 soldiers this week", "en", True),
        ("Turkey won the football world cup", "en", False),
        ("ترکیه ۳۶ سرباز از دست داد", "fa", True),
        ("ترکیه جام جهانی فوتبال را برد", "fa", False),
        ("قتل جنديان تركيان في إدلب", "ar", True),
        ("فازت تركيا بكأس العالم لكرة القدم", "ar", False),
    ],
)
def test_lexical_support(sentence: str, lang: str, supported: bool) -> None:
    passages = {
        "en": ["This week Turkey lost 36 soldiers in an air strike in Idlib."],
        "fa": ["این هفته ترکیه ۳۶ سرباز خود را در ادلب از دست داد."],
        "ar": ["قتل جنديان تركيان في قصف على إدلب."],
    }[lang]
    assert answer_eval.lexically_supported(sentence, passages, lang) is supported


# --- formats ----------------------------------------------------------------------------
def test_bundled_testset_loads() -> None:
    ts = load_testset(TESTSET)
    assert len(ts.cases) >= 60
    assert {c.question_lang for c in ts.cases} == {"fa", "ar", "en"}


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ('{"id": "x"}', "missing field"),
        (
            '{"id": "x", "question": "q?", "question_lang": "de", "answers": [], "gold": [], '
            '"answerable": false, "tags": []}',
            "question_lang",
        ),
        (
            '{"id": "x", "question": "چه شد؟", "question_lang": "fa", "answers": ["a"], '
            '"gold": [{"doc": "d"}], "answerable": true, "tags": []}',
            "gold",
        ),
        (
            '{"id": "x", "question": "ماذا؟", "question_lang": "ar", "answers": [], '
            '"gold": [], "answerable": "yes", "tags": []}',
            "answerable",
        ),
        ("{not json", "not valid JSON"),
    ],
)
def test_broken_testset_rows_name_line_and_field(tmp_path: Path, line: str, field: str) -> None:
    good = (
        '{"id": "ok", "question": "Where?", "question_lang": "en", "answers": [], "gold": [], '
        '"answerable": false, "tags": ["unanswerable"]}'
    )
    path = tmp_path / "set.jsonl"
    path.write_text(good + "\n" + line + "\n", "utf-8")
    with pytest.raises(IngestError) as err:
        load_testset(path)
    assert ":2" in str(err.value) and field in str(err.value), str(err.value)


def test_squad_format_becomes_corpus_and_cases(tmp_path: Path) -> None:
    squad = {
        "data": [
            {
                "title": "Idlib",
                "paragraphs": [
                    {
                        "context": "Russia and Turkey signed a deal in Sochi in September 2018.",
                        "qas": [
                            {
                                "id": "q1",
                                "question": "Where was the deal signed?",
                                "answers": [{"text": "Sochi", "answer_start": 35}],
                            },
                            {
                                "id": "q2",
                                "question": "Who won the match?",
                                "answers": [],
                                "is_impossible": True,
                            },
                        ],
                    },
                    {
                        "context": "وقع الاتفاق في سوتشي عام 2018 بين روسيا وتركيا.",
                        "qas": [
                            {
                                "id": "q3",
                                "question": "أين وقع الاتفاق؟",
                                "answers": [{"text": "سوتشي", "answer_start": 15}],
                            }
                        ],
                    },
                ],
            }
        ]
    }
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(squad, ensure_ascii=False), "utf-8")
    ts = from_squad(path, tmp_path / "out")
    assert [c.id for c in ts.cases] == ["q1", "q2", "q3"]
    assert ts.cases[0].gold == (Gold("squad.a000p00", "Sochi"),)
    assert not ts.cases[1].answerable and ts.cases[1].tags == ("unanswerable",)
    rows = [json.loads(x) for x in ts.corpus[0].read_text("utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["squad.a000p00", "squad.a000p01"]


# --- runs against a real index ---------------------------------------------------------
def _case(**kw: Any) -> TestCase:
    base: dict[str, Any] = {
        "id": "c",
        "question": "q",
        "question_lang": "en",
        "answers": (),
        "gold": (),
        "answerable": False,
        "tags": (),
    }
    base.update(kw)
    return TestCase(**base)


def test_run_scores_each_case_and_reports_problems(engine: Engine) -> None:
    doc_text = (SAMPLES / sample_id(SAMPLE_EN)).read_text("utf-8")
    quote = next(s for s in doc_text.split("\n") if "September 2018" in s).strip()
    quote = quote[quote.index("Russia and Turkey") :]
    cases = (
        _case(
            id="en-year",
            question="In what year was the Sochi deal on Idlib signed?",
            answers=("2018",),
            gold=(Gold(sample_id(SAMPLE_EN), quote),),
            answerable=True,
        ),
        _case(
            id="fa-year",
            question_lang="fa",
            question="توافق سوچی درباره ادلب در چه سالی امضا شد؟",
            answers=("2018", "۲۰۱۸"),
            gold=(Gold(sample_id(SAMPLE_EN), quote),),
            answerable=True,
            tags=("cross-lingual",),
        ),
        _case(id="none", question="Who won the 1994 football world cup in Peru?"),
        _case(
            id="bad-gold",
            question="What did Putin say?",
            answers=("x",),
            gold=(Gold("no-such-doc.txt", "x"), Gold(sample_id(SAMPLE_AR), "not in it")),
            answerable=True,
        ),
    )
    seen: list[str] = []
    report = answer_eval.run(
        engine, TestSet("t", cases), progress=lambda i, n, cid: seen.append(f"{i}/{n}:{cid}")
    )
    assert seen == ["1/4:en-year", "2/4:fa-year", "3/4:none", "4/4:bad-gold"]
    rows = {r["id"]: r for r in report["questions"]}
    assert rows["en-year"]["ok"] and rows["en-year"]["retrieval"]["recall@5"] == 1.0
    assert rows["en-year"]["direction"] == "same-language"
    assert rows["fa-year"]["direction"] == "cross-lingual"
    assert rows["none"]["direction"] == "none"
    assert any("no-such-doc.txt" in p for p in report["problems"])
    assert any("not in" in p and "quote" in p for p in report["problems"])
    m = report["metrics"]
    assert m["n"] == 4 and m["answerable"] == 3 and m["unanswerable"] == 1
    assert set(report["by"]["question_lang"]) == {"en", "fa"}
    assert {"same-language", "cross-lingual", "none"} <= set(report["by"]["direction"])
    assert 0 <= m["citation_precision"] <= 1 and m["latency_ms_p95"] >= m["latency_ms_p50"]
    # the answered question's faithfulness is measured on its sentences
    assert rows["en-year"]["faithfulness"] == 1.0


def test_judge_reads_model_verdicts(engine: Engine) -> None:
    """The judge prompt lists each sentence with its cited passages; the model's verdicts are
    read back by number, and an unreadable line counts as unsupported."""

    def reply(messages: list[dict[str, Any]]) -> str:
        user = messages[-1]["content"]
        assert "Sentence 1:" in user and "Cited passages:" in user
        n = user.count("Sentence ")
        return "\n".join(f"{i}: {'SUPPORTED' if i % 2 else 'UNSUPPORTED'}" for i in range(1, n + 1))

    with serve(reply) as fake:
        settings = replace(LLMSettings(), base_url=fake.base_url, max_retries=0, timeout=5)
        judge = ModelJudge(ChatModel(settings))
        case = _case(
            id="j",
            question="What did Putin and Erdogan discuss in their phone call?",
            answers=("Idlib",),
            gold=(Gold(sample_id(SAMPLE_FA)),),
            answerable=True,
        )
        report = answer_eval.run(engine, TestSet("t", (case,)), judge=judge)
    row = report["questions"][0]
    assert row["faithfulness_by"] == "judge"
    n = len(answer_eval.sentences_with_citations(row["answer"]))
    assert n >= 2
    assert row["faithfulness"] == pytest.approx(((n + 1) // 2) / n, abs=1e-3)
    assert len(fake.requests) == 1
    assert sum(judge.model.usage.values()) == 2  # the fake server reports 1 + 1 tokens


def test_parse_verdicts() -> None:
    assert parse_verdicts("1: SUPPORTED\n2: unsupported\nnonsense", 3) == [True, False, None]


# --- the CLI ----------------------------------------------------------------------------
def test_cli_eval_bundled_set_table_json_report_and_compare(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "good.json"
    args = ["eval", "--testset", str(TESTSET), "--corpus", str(SAMPLES)]
    result = runner.invoke(main, [*args, "--json", str(out), "--report", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output + str(result.exception)
    for label in ("Retrieval", "Citations", "Answers", "Abstention", "Faithfulness", "Latency"):
        assert label in result.output
    assert "cross-lingual" in result.output and "By question language" in result.output
    good = json.loads(out.read_text("utf-8"))
    assert good["n_questions"] == len(load_testset(TESTSET).cases)
    assert not good["problems"], good["problems"]  # every gold quote is in the index
    assert good["metrics"]["recall@5"] > 0.8
    assert (tmp_path / "r" / "index.html").is_file()

    # the same run compared with itself: no regression
    same = runner.invoke(main, [*args, "--compare", str(out)])
    assert same.exit_code == 0, same.output

    # a deliberately broken retrieval (one passage per question) is caught as a regression
    monkeypatch.setenv("MANBA_RETRIEVAL__K", "1")
    broken = runner.invoke(main, [*args, "--compare", str(out), "--tolerance", "0.02"])
    assert broken.exit_code == 1, broken.output
    assert "regress" in (broken.output + broken.stderr).lower()


def test_cli_eval_qa_pair_scores_answers_and_retrieval(runner: CliRunner, tmp_path: Path) -> None:
    from tests.conftest import CORPUS, QA

    out = tmp_path / "qa.json"
    result = runner.invoke(
        main, ["eval", "--corpus", str(CORPUS), "--qa", str(QA), "--json", str(out)]
    )
    assert result.exit_code == 0, result.output + str(result.exception)
    report = json.loads(out.read_text("utf-8"))
    assert report["metrics"]["recall@20"] is not None
    assert "hybrid" in report["modes"] and report["recall@1"] is not None  # retrieval, as before
    assert len(report["questions"]) == report["n_questions"]


def test_cli_eval_needs_one_source(runner: CliRunner) -> None:
    result = runner.invoke(main, ["eval"])
    assert result.exit_code == 2
    assert "--testset" in result.stderr


def test_cli_eval_judge_needs_a_model(runner: CliRunner) -> None:
    result = runner.invoke(
        main, ["eval", "--testset", str(TESTSET), "--corpus", str(SAMPLES), "--judge"]
    )
    assert result.exit_code == 2 and "OPENAI" in result.stderr


def test_cli_eval_connected_with_the_model_judge(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Connected: the model writes the answers and judges them; tokens are counted."""

    def reply(messages: list[dict[str, Any]]) -> str:
        system = messages[0]["content"]
        if "You check answers" in system:
            n = messages[-1]["content"].count("Sentence ")
            return "\n".join(f"{i}: SUPPORTED" for i in range(1, n + 1))
        if "translate search questions" in system:
            return "{}"
        return "Russia and Turkey signed the deal in Sochi in 2018 [1]."

    out = tmp_path / "connected.json"
    with serve(reply) as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("MANBA_LLM__MAX_RETRIES", "0")
        result = runner.invoke(
            main,
            [
                "eval",
                "--testset",
                str(TESTSET),
                "--corpus",
                str(SAMPLES),
                "--limit",
                "4",
                "--judge",
                "--json",
                str(out),
            ],
        )
    assert result.exit_code == 0, result.output + str(result.exception)
    report = json.loads(out.read_text("utf-8"))
    assert "answers written by" in report["mode"]
    answered = [q for q in report["questions"] if not q["abstained"]]
    assert answered and all(q["faithfulness_by"] == "judge" for q in answered)
    assert report["metrics"]["faithfulness"] == 1.0
    assert report["metrics"]["tokens_total"] > 0 and report["judge_tokens"] > 0
