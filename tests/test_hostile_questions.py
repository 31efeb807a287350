"""Hostile questions (empty, 100k characters, only punctuation or diacritics, mixed scripts,
control characters) through the Engine API, the CLI (``ask``/``search``, plain and --json) and
the Streamlit app: each gets an answer, an abstention or a clear message, never a traceback.

One table drives all three; ``expect`` says which outcome is right:
- ``answer``: answered or abstained, every citation an exact span of its document;
- ``empty`` / ``no_words`` / ``too_long``: refused with a message that says why.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from click.testing import CliRunner
from conftest import ROOT
from streamlit.testing.v1 import AppTest

from rag.cli import main
from rag.config import Settings
from rag.engine import MAX_QUESTION_CHARS, Engine, check_question
from rag.errors import ManbaError
from rag.types import Answer

APP = str(ROOT / "app.py")

MESSAGES = {
    "empty": "the question is empty",
    "no_words": "no words to search for",
    "too_long": f"the limit is {MAX_QUESTION_CHARS:,}",
}


@dataclass(frozen=True)
class Case:
    id: str
    question: str
    expect: str  # "answer", "empty", "no_words" or "too_long"
    in_app: bool = True  # st.chat_input cannot carry an unpaired surrogate


def _long(sentence: str, size: int) -> str:
    return (sentence * (size // len(sentence) + 1))[:size]


FA_Q = "توافق سوچی درباره ادلب چه بود؟ "
AR_Q = "ما هو اتفاق سوتشي بشأن إدلب؟ "
EN_Q = "What did Putin and Erdogan agree in Sochi about Idlib? "

CASES = [
    # empty and blank
    Case("empty", "", "empty"),
    Case("blank", "   \n\t ", "empty"),
    Case("fa-invisible", "\u200c\u200f\u200c", "no_words"),
    Case("ar-tatweel-only", "ـــــ", "no_words"),
    # only punctuation
    Case("fa-punctuation", "؟؟ ! «» ، ...", "no_words"),
    Case("ar-punctuation", "؟! ؛ ، … ٪", "no_words"),
    Case("en-punctuation", "?!... ;: -- () []", "no_words"),
    # only diacritics
    Case("fa-diacritics", "َ ُ ِ ّ ْ ً", "no_words"),
    Case("ar-diacritics", "\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652\u0670" * 3, "no_words"),
    Case("en-diacritics", "\u0301\u0300\u0308 \u0327", "no_words"),
    # emoji
    Case("emoji-only", "🔴🔴 👍🏽", "no_words"),
    Case("fa-emoji", "🔴 توافق سوچی چه بود؟", "answer"),
    # 100k characters, and the limit itself
    Case("fa-100k", _long(FA_Q, 100_000), "too_long"),
    Case("ar-100k", _long(AR_Q, 100_000), "too_long"),
    Case("en-100k", _long(EN_Q, 100_000), "too_long"),
    Case("fa-at-limit", _long(FA_Q, MAX_QUESTION_CHARS), "answer"),
    Case("ar-over-limit", _long(AR_Q, MAX_QUESTION_CHARS + 1), "too_long"),
    Case("en-unbroken-100k", "x" * 100_000, "too_long"),
    # mixed scripts
    Case("fa-mixed", "پوتین و Erdoğan در Sochi درباره ادلب چه گفتند؟", "answer"),
    Case("ar-mixed", "ماذا قال Putin و اردوغان في سوچی عن إدلب؟", "answer"),
    Case("en-mixed", "Putin پوتین بوتين Sochi سوچی ۲۰۱۸ ٢٠١٨", "answer"),
    # control characters
    Case("fa-controls", "\x00\x1b[31mتوافق سوچی\x07 چه بود؟\x1b[0m", "answer"),
    Case("ar-controls", "ما\x00 هو اتفاق\x08 سوتشي\x9b؟", "answer"),
    Case("en-controls", "What was the\x00 Sochi\x1b]0;pwned\x07 agreement?", "answer"),
    Case("controls-only", "\x00\x01\x1b\x07\x7f", "empty"),
    # bidi controls, and a command line's undecodable byte
    Case("fa-bidi", "\u202eتوافق سوچی\u202c \u2067چه بود؟\u2069", "answer"),
    Case("ar-surrogate", "ما هو اتفاق سوتشي\udcff؟", "answer", in_app=False),
]
IDS = [c.id for c in CASES]


def check_answer(answer: Answer, engine: Engine) -> None:
    assert answer.answer.strip()
    if not answer.abstained:
        assert answer.citations
    for c in answer.citations:
        assert engine.reader.doc(c.doc_id)[1][c.start : c.end] == c.quote


# --- Engine ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_engine(engine: Engine, case: Case) -> None:
    if case.expect == "answer":
        answer = engine.ask(case.question)
        check_answer(answer, engine)
        assert answer.question == check_question(case.question)
        assert engine.search(case.question)
        return
    for call in (engine.ask, engine.search):
        with pytest.raises(ManbaError) as err:
            call(case.question)
        assert MESSAGES[case.expect] in str(err.value)


def test_check_question_cleans_controls_and_names_the_limit() -> None:
    assert check_question("\x00پوتین\x1b[1m") == " پوتین [1m"
    assert check_question("بوتين\udcff") == "بوتين\ufffd"
    assert check_question("Sochi") == "Sochi"
    with pytest.raises(ManbaError, match="100,000 characters long; the limit is 2,000"):
        check_question("پ" * 100_000)


# --- CLI -------------------------------------------------------------------------------------


@pytest.mark.parametrize("as_json", [False, True], ids=["plain", "json"])
@pytest.mark.parametrize("command", ["ask", "search"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_cli(
    built_index: Settings, runner: CliRunner, case: Case, command: str, as_json: bool
) -> None:
    args = [command, case.question, "--index", str(built_index.index_dir)]
    result = runner.invoke(main, args + (["--json"] if as_json else []))
    assert "Traceback" not in result.output + result.stderr
    if case.expect != "answer":
        assert result.exit_code == 2, (result.output, result.stderr)
        assert isinstance(result.exception, SystemExit)
        assert result.stderr.startswith("error: "), result.stderr
        assert MESSAGES[case.expect] in result.stderr
        assert len(result.stderr) < 500  # the message, not the question echoed back
        return
    assert result.exit_code == 0, (result.output, result.stderr, result.exception)
    assert result.exception is None
    if as_json:
        data = json.loads(result.output)
        assert data["passages"]
        if command == "ask":
            assert data["answer"].strip()
            assert data["question"] == check_question(case.question)
    else:
        # Plain output never carries a control character to the terminal.
        assert not any(ord(ch) < 0x20 and ch not in "\n\t" for ch in result.output)


# --- Streamlit app ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app(built_index: Settings) -> Iterator[AppTest]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MANBA_INDEX_DIR", str(built_index.index_dir))
        at = AppTest.from_file(APP, default_timeout=60)
        at.run()
        assert not at.exception, at.exception
        yield at


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.in_app], ids=[c.id for c in CASES if c.in_app]
)
def test_app(app: AppTest, case: Case) -> None:
    app.session_state["history"] = []
    app.session_state["asked_with"] = []
    app.chat_input[0].set_value(case.question).run()
    assert not app.exception, app.exception
    errors = [e.value for e in app.error]
    history = app.session_state["history"]
    if case.expect == "answer":
        assert not errors, errors
        assert len(history) == 1
        assert history[0].answer.strip()
    elif case.expect == "empty" and not case.question:
        # An empty chat box sends nothing: no question, no message, no answer.
        assert not errors and not history
    else:
        assert len(errors) == 1, errors
        assert MESSAGES[case.expect] in errors[0]
        assert len(errors[0]) < 500
        assert not history
