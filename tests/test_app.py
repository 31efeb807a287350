"""The Streamlit app, driven headless with streamlit.testing (no server, no browser).

The app reads its settings with rag.config.from_env(), so MANBA_INDEX_DIR is set before each
AppTest is created. Markdown values are the raw strings the app sends: text inside its HTML
blocks is written with character entities, so those are unescaped before looking for "[1]".
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from conftest import ROOT, SAMPLE_EN, SAMPLE_FA, sample_id
from streamlit.testing.v1 import AppTest

from rag.config import Settings

APP = str(ROOT / "app.py")
TIMEOUT = 60


def start(monkeypatch: pytest.MonkeyPatch, index_dir: Path) -> AppTest:
    monkeypatch.setenv("MANBA_INDEX_DIR", str(index_dir))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    return at


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def markdowns(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def answer_block(at: AppTest) -> str:
    """The markdown of the answer text (the first text block after the question)."""
    blocks = [v for v in markdowns(at) if 'class="manba-text"' in v]
    assert len(blocks) >= 2, blocks
    return blocks[1]


def source_cards(at: AppTest) -> list[str]:
    return [v for v in markdowns(at) if 'class="manba-card-head"' in v]


def test_app_answers_with_citations(monkeypatch: pytest.MonkeyPatch, built_index: Settings) -> None:
    at = ask(
        start(monkeypatch, built_index.index_dir), "What did Putin and Erdogan discuss about Idlib?"
    )
    assert "[1]" in html.unescape(answer_block(at))
    assert "Sources" in [s.value for s in at.subheader]
    cards = source_cards(at)
    assert cards and "<b>[1]</b>" in cards[0]
    doc_id = sample_id(SAMPLE_EN)
    # The card names the document (as data; how it displays is test_app_source_shows_doc_id).
    assert doc_id in html.unescape(cards[0])
    assert any("<mark>" in v for v in markdowns(at)), "the cited sentence is highlighted"
    assert not at.warning


def test_app_persian_question_renders_rtl(
    monkeypatch: pytest.MonkeyPatch, built_index: Settings
) -> None:
    at = ask(start(monkeypatch, built_index.index_dir), "پوتین و اردوغان درباره ادلب چه گفتند؟")
    question, answer = [v for v in markdowns(at) if 'class="manba-text"' in v][:2]
    assert 'dir="rtl"' in question and 'lang="fa"' in question
    assert 'dir="rtl"' in answer and "[1]" in html.unescape(answer)
    assert any(sample_id(SAMPLE_FA) in html.unescape(c) for c in source_cards(at))


def test_app_off_topic_question_lists_closest_passages(
    monkeypatch: pytest.MonkeyPatch, built_index: Settings
) -> None:
    at = ask(start(monkeypatch, built_index.index_dir), "What is the capital of Peru?")
    assert at.warning, "the app says no answer was found"
    assert "Closest passages" in [s.value for s in at.subheader]
    assert not source_cards(at)


def test_app_source_shows_doc_id(monkeypatch: pytest.MonkeyPatch, built_index: Settings) -> None:
    at = ask(
        start(monkeypatch, built_index.index_dir), "What did Putin and Erdogan discuss about Idlib?"
    )
    card = source_cards(at)[0]
    # The id sits in an HTML <code> element, where entities are decoded by the browser.
    code = re.findall(r"<code>(.*?)</code>", card)
    assert [html.unescape(c) for c in code] == [sample_id(SAMPLE_EN)], card


def test_app_missing_index_shows_how_to_build_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "no-index-here"
    at = start(monkeypatch, missing)
    assert at.error, "an error message is shown"
    message = at.error[0].value
    assert "make index" in message
    assert str(missing) in message
    assert not at.chat_input
    assert not missing.exists()
