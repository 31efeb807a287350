"""The `manba` command line: JSON outputs of ask, search, eval and info; `python -m rag`."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import CORPUS, QA, ROOT, SAMPLE_EN, VENV_BIN, read_text, sample_id

from rag.cli import main
from rag.config import Settings
from rag.indexing import index_paths

CITATION_KEYS = {"n", "doc_id", "title", "path", "lang", "start", "end", "quote"}
PASSAGE_KEYS = {"rank", "score", "doc_id", "title", "path", "lang", "start", "end", "text"}
Q_EN = "What did Putin and Erdogan discuss about Idlib?"


def one_json_object(stdout: str) -> dict:
    """stdout must be exactly one JSON object (json.loads rejects anything after it)."""
    obj = json.loads(stdout)
    assert isinstance(obj, dict)
    return obj


def check_answer_json(data: dict) -> None:
    assert {"answer", "abstained", "question_lang", "citations", "passages"} <= set(data)
    assert isinstance(data["answer"], str) and data["answer"]
    assert isinstance(data["abstained"], bool)
    assert data["question_lang"] in ("fa", "ar", "en")
    for c in data["citations"]:
        assert set(c) >= CITATION_KEYS
        # The quote is the original file's text at [start, end), read back from disk.
        assert read_text(Path(c["path"]))[c["start"] : c["end"]] == c["quote"]
        assert f"[{c['n']}]" in data["answer"]
    assert data["passages"]
    for p in data["passages"]:
        assert set(p) >= PASSAGE_KEYS
        assert isinstance(p["score"], float)
        assert read_text(Path(p["path"]))[p["start"] : p["end"]] == p["text"]
    scores = [p["score"] for p in data["passages"]]
    assert scores == sorted(scores, reverse=True)


def test_ask_json(runner: CliRunner, built_index: Settings) -> None:
    result = runner.invoke(main, ["ask", Q_EN, "--json", "--index", str(built_index.index_dir)])
    assert result.exit_code == 0, result.output
    data = one_json_object(result.stdout)
    check_answer_json(data)
    assert data["question"] == Q_EN
    assert data["question_lang"] == "en"
    assert data["abstained"] is False
    assert data["citations"][0]["doc_id"] == sample_id(SAMPLE_EN)
    assert [c["n"] for c in data["citations"]] == list(range(1, len(data["citations"]) + 1))


def test_ask_json_off_topic(runner: CliRunner, built_index: Settings) -> None:
    result = runner.invoke(
        main, ["ask", "ما هي عاصمة بيرو؟", "--json", "--index", str(built_index.index_dir)]
    )
    assert result.exit_code == 0, result.output
    data = one_json_object(result.stdout)
    check_answer_json(data)
    assert data["abstained"] is True and data["citations"] == []
    assert data["question_lang"] == "ar"


def test_ask_json_in_a_real_process(built_index: Settings, tmp_path: Path) -> None:
    """A real process: stdout carries the JSON only (logs and warnings go to stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MANBA_")}
    env["MANBA_INDEX_DIR"] = str(built_index.index_dir)
    proc = subprocess.run(
        [str(VENV_BIN / "manba"), "ask", "پوتین و اردوغان درباره ادلب چه گفتند؟", "--json"],
        capture_output=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
    data = one_json_object(proc.stdout.decode("utf-8"))
    check_answer_json(data)
    assert data["question_lang"] == "fa"
    assert b"Traceback" not in proc.stderr


def test_ask_plain_text(runner: CliRunner, built_index: Settings) -> None:
    result = runner.invoke(main, ["ask", Q_EN, "--index", str(built_index.index_dir)])
    assert result.exit_code == 0, result.output
    assert "[1]" in result.stdout
    assert "Sources:" in result.stdout
    assert sample_id(SAMPLE_EN) in result.stdout


def test_search_json_with_language_filter(runner: CliRunner, built_index: Settings) -> None:
    result = runner.invoke(
        main,
        [
            "search",
            "ادلب",
            "--k",
            "3",
            "--lang",
            "fa,ar",
            "--json",
            "--index",
            str(built_index.index_dir),
        ],
    )
    assert result.exit_code == 0, result.output
    data = one_json_object(result.stdout)
    assert data["query"] == "ادلب"
    assert data["query_lang"] == "fa"
    passages = data["passages"]
    assert 0 < len(passages) <= 3
    assert {p["lang"] for p in passages} <= {"fa", "ar"}
    assert [p["rank"] for p in passages] == list(range(1, len(passages) + 1))
    for p in passages:
        assert set(p) >= PASSAGE_KEYS
        assert read_text(Path(p["path"]))[p["start"] : p["end"]] == p["text"]


def test_search_lang_fa_returns_only_persian(runner: CliRunner, built_index: Settings) -> None:
    result = runner.invoke(
        main,
        [
            "search",
            "Idlib ادلب إدلب",
            "--k",
            "10",
            "--lang",
            "fa",
            "--json",
            "--index",
            str(built_index.index_dir),
        ],
    )
    assert result.exit_code == 0, result.output
    passages = one_json_object(result.stdout)["passages"]
    assert passages and {p["lang"] for p in passages} == {"fa"}


def test_search_rejects_unknown_language(runner: CliRunner, built_index: Settings) -> None:
    result = runner.invoke(
        main, ["search", "Idlib", "--lang", "fa,de", "--index", str(built_index.index_dir)]
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --lang")
    assert "de" in result.stderr


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_search_modes(runner: CliRunner, built_index: Settings, mode: str) -> None:
    result = runner.invoke(
        main,
        [
            "search",
            "Putin Erdogan Idlib",
            "--mode",
            mode,
            "--k",
            "2",
            "--json",
            "--index",
            str(built_index.index_dir),
        ],
    )
    assert result.exit_code == 0, result.output
    assert len(one_json_object(result.stdout)["passages"]) == 2


def test_eval_writes_metrics(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "eval.json"
    result = runner.invoke(
        main,
        ["eval", "--corpus", str(CORPUS), "--qa", str(QA), "--k", "1,5", "--json", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    report = json.loads(out.read_text("utf-8"))
    assert isinstance(report, dict)
    for key in ("recall@1", "recall@5", "mrr@10", "ndcg@10"):
        assert 0.0 <= report[key] <= 1.0, key
    assert report["recall@1"] <= report["recall@5"]
    assert report["n_questions"] == 6
    assert report["index"]["documents"] == 9 and report["index"]["failed"] == []
    hybrid = report["modes"]["hybrid"]
    for group in ("by_question_lang", "by_passage_lang"):
        assert set(hybrid[group]) == {"fa", "ar", "en"}
        for figures in hybrid[group].values():
            assert figures["n"] == 2
            for key in ("recall@1", "recall@5", "mrr@10", "ndcg@10"):
                assert 0.0 <= figures[key] <= 1.0
    assert "R@1" in result.stdout and str(out) in result.stdout


def test_eval_bad_cutoffs_is_a_clear_error(runner: CliRunner) -> None:
    result = runner.invoke(main, ["eval", "--corpus", str(CORPUS), "--qa", str(QA), "--k", "1,x"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --k")


def test_info(runner: CliRunner, built_index: Settings) -> None:
    result = runner.invoke(main, ["info", "--index", str(built_index.index_dir)])
    assert result.exit_code == 0, result.output
    data = one_json_object(result.stdout)
    assert data["counts"]["documents"] == 4
    assert "documents" not in data
    assert data["fingerprint"] == built_index.fingerprint()


def test_python_m_rag_help() -> None:
    proc = subprocess.run(
        [str(VENV_BIN / "python"), "-m", "rag", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    for command in ("ingest", "ask", "search", "eval", "info"):
        assert command in proc.stdout


# Terminal escapes in a document: OSC "set window title" (ended by BEL), and a C1 CSI.
ESCAPES = "\x1b]0;pwned\x07"
CONTROL_ROWS = [
    {
        "id": "mombasa",
        "title": f"Mombasa dockworkers strike {ESCAPES}",
        "lang": "en",
        "text": (
            f"Dockworkers in Mombasa began a strike on Tuesday {ESCAPES} over unpaid wages.\t"
            "The strike in Mombasa closed two berths \x9b31m for the whole week."
        ),
        "source": "Coast Herald",
        "date": "2024-05-07",
    },
    {
        "id": "nairobi",
        "title": "Nairobi rail line reopens",
        "lang": "en",
        "text": "The Nairobi commuter rail line reopened on Monday after repairs to a bridge.",
        "source": "Capital Daily",
        "date": "2024-05-06",
    },
]
CONTROL_QUESTION = "Why did the dockworkers in Mombasa strike?"


@pytest.fixture(scope="module")
def control_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("control")
    corpus = folder / "news.jsonl"
    corpus.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in CONTROL_ROWS), "utf-8"
    )
    settings = Settings().with_index(folder / "index")
    report = index_paths([corpus], settings)
    assert report.ok, report
    return settings.index_dir


def assert_no_control(text: str) -> None:
    bad = [hex(ord(c)) for c in text if (ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) < 0xA0]
    assert not bad, (bad, text)


def test_ask_plain_text_strips_control_characters(runner: CliRunner, control_index: Path) -> None:
    result = runner.invoke(main, ["ask", CONTROL_QUESTION, "--index", str(control_index)])
    assert result.exit_code == 0, result.output
    assert "[1]" in result.stdout and "unpaid wages" in result.stdout
    assert "news.jsonl#mombasa" in result.stdout
    assert_no_control(result.stdout)


def test_search_plain_text_strips_control_characters(
    runner: CliRunner, control_index: Path
) -> None:
    result = runner.invoke(main, ["search", "Mombasa strike", "--index", str(control_index)])
    assert result.exit_code == 0, result.output
    assert "Mombasa dockworkers strike" in result.stdout and "closed two berths" in result.stdout
    assert_no_control(result.stdout)


def test_ask_json_keeps_the_original_text(runner: CliRunner, control_index: Path) -> None:
    """--json is for programs: the quote stays the stored text, escapes written as \\u001b."""
    result = runner.invoke(main, ["ask", CONTROL_QUESTION, "--json", "--index", str(control_index)])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout and "\\u001b" in result.stdout
    data = one_json_object(result.stdout)
    assert any(ESCAPES in c["quote"] for c in data["citations"]), data["citations"]


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--date-from", "2024-13-01"], "--date-from"),
        (["--date-from", "2024-02-30"], "--date-from"),
        (["--date-to", "07/03/2024"], "--date-to"),
        (["--date-to", "20240307"], "--date-to"),
        (["--date-from", "۲۰۲۴-۰۳-۰۷"], "--date-from"),  # Persian digits
        (["--date-to", "٢٠٢٤-٠٣-٠٧"], "--date-to"),  # Arabic-Indic digits
        (["--date-from", "1402-12-11x"], "--date-from"),
        (["--date-from", "2024-05-08", "--date-to", "2024-05-01"], "--date-from"),
    ],
)
@pytest.mark.parametrize("command", ["search", "ask"])
def test_bad_dates_are_a_clear_error(
    runner: CliRunner, control_index: Path, command: str, args: list[str], option: str
) -> None:
    result = runner.invoke(main, [command, "Mombasa", *args, "--index", str(control_index)])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {option}"), result.stderr
    assert "Traceback" not in result.output


def test_good_dates_filter(runner: CliRunner, control_index: Path) -> None:
    result = runner.invoke(
        main,
        [
            "search",
            "Mombasa Nairobi",
            "--date-from",
            "2024-05-07",
            "--date-to",
            "2024-05-07",
            "--json",
            "--index",
            str(control_index),
        ],
    )
    assert result.exit_code == 0, result.output
    passages = one_json_object(result.stdout)["passages"]
    assert passages and {p["doc_id"] for p in passages} == {"news.jsonl#mombasa"}


def test_search_with_no_match_under_filters(runner: CliRunner, control_index: Path) -> None:
    result = runner.invoke(
        main, ["search", "Mombasa", "--source", "No Such Outlet", "--index", str(control_index)]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "No passage matches these filters.\n"


def test_ask_with_no_passage_under_filters(runner: CliRunner, control_index: Path) -> None:
    result = runner.invoke(
        main,
        ["ask", CONTROL_QUESTION, "--date-from", "2030-01-01", "--index", str(control_index)],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "No answer: No passage matches these filters.\n"


def test_unknown_setting_is_a_clear_error(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MANBA_CHUNK_MAX_TOKENS", "200")
    for args in (["info"], ["eval", "--corpus", str(CORPUS), "--qa", str(QA)]):
        result = runner.invoke(main, args)
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("error: unknown setting MANBA_CHUNK_MAX_TOKENS")


@pytest.mark.parametrize(
    ("query", "langs", "expect"),
    [
        ("What did Erdogan ask Putin about Idlib?", "fa,ar", "Putin (name)"),
        ("اتفاق سوتشي بين روسيا وتركيا", "en", "(glossary: russia)"),
        ("شویگو و آکار", "en", "شویگو (name)"),
    ],
)
def test_search_says_why_a_passage_in_another_language_matched(
    runner: CliRunner, built_index: Settings, query: str, langs: str, expect: str
) -> None:
    result = runner.invoke(
        main, ["search", query, "--lang", langs, "--k", "3", "--index", str(built_index.index_dir)]
    )
    assert result.exit_code == 0, result.output
    matched = [line for line in result.output.splitlines() if line.strip().startswith("matched:")]
    assert matched and any(expect in line for line in matched), result.output
