"""The Streamlit app, driven headless with streamlit.testing (no server, no browser).

The app reads its settings with rag.config.from_env(), so MANBA_INDEX_DIR is set before each
AppTest is created. Markdown values are the raw strings the app sends: text inside its HTML
blocks is written with character entities, so those are unescaped before looking for "[1]".
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import ROOT, SAMPLE_EN, SAMPLE_FA, sample_id
from streamlit.testing.v1 import AppTest

from rag.config import Settings
from rag.engine import Engine
from rag.indexing import index_paths
from rag.types import Answer

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


# A document written to break out of the HTML block: a blank line made of bare carriage
# returns, then Markdown and HTML that must stay text; more line ends of every kind after.
HOSTILE_TEXT = (
    "Zanzibar ferry council approves night crossings\n\n"
    "The Zanzibar ferry council approved night crossings to Pemba island on Monday.\r\r"
    "www.example.com ![x](http://127.0.0.1:9/x.png) <img src=x onerror=alert(1)> "
    "[click](javascript:alert(1))\u2028"
    "The council said the night ferries to Pemba island start in May.\r\n"
    "Tickets cost the same as day crossings.\u2029More crossings follow in June.\n"
)
HOSTILE_QUESTION = "When do the Zanzibar night ferries to Pemba island start?"
_LINE_ENDS = re.compile(r"[\r\n\u2028\u2029]")


@pytest.fixture(scope="module")
def hostile_index(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    corpus = tmp_path_factory.mktemp("hostile") / "corpus"
    corpus.mkdir()
    # newline="" keeps the bare \r and \r\n exactly as written.
    (corpus / "zanzibar.txt").write_text(HOSTILE_TEXT, encoding="utf-8", newline="")
    settings = Settings().with_index(corpus.parent / "index")
    report = index_paths([corpus], settings)
    assert report.ok and report.total_documents == 1, report
    return settings


def test_app_second_question_in_a_session(
    monkeypatch: pytest.MonkeyPatch, built_index: Settings
) -> None:
    """Each answer in the history draws its own download button: no duplicate element ids."""
    at = start(monkeypatch, built_index.index_dir)
    ask(at, "What did Putin and Erdogan discuss about Idlib?")
    ask(at, "پوتین و اردوغان درباره ادلب چه گفتند؟")
    assert [s.value for s in at.subheader].count("Answer") == 2
    questions = [html.unescape(v) for v in markdowns(at) if 'class="manba-text"' in v]
    assert any("Putin and Erdogan" in q for q in questions)
    assert any("پوتین و اردوغان" in q for q in questions)
    cited = [v for v in markdowns(at) if 'class="manba-text"' in v and "[1]" in html.unescape(v)]
    assert len(cited) >= 2, "both answers are drawn, each with its citations"
    assert len(at.get("download_button")) == 2


def test_app_hostile_document_stays_text(
    monkeypatch: pytest.MonkeyPatch, hostile_index: Settings
) -> None:
    at = ask(start(monkeypatch, hostile_index.index_dir), HOSTILE_QUESTION)
    blocks = [v for v in markdowns(at) if 'class="manba-text"' in v]
    passage = [b for b in blocks if "<mark>" in b]
    assert passage, blocks
    assert "Tickets cost the same" in passage[0] and "<br>" in passage[0]
    for value in markdowns(at):
        # No line end inside the app's HTML: a blank line would end the HTML block and hand
        # the rest of the passage to the Markdown parser.
        assert not _LINE_ENDS.search(value), repr(value)
        for raw in ("](", "http://", "www.", "<img", "javascript:"):
            assert raw not in value, (raw, value)


def test_app_k_above_the_slider_range(
    monkeypatch: pytest.MonkeyPatch, built_index: Settings
) -> None:
    monkeypatch.setenv("MANBA_RETRIEVAL__K", "50")
    at = start(monkeypatch, built_index.index_dir)
    assert at.slider[0].value == 20
    ask(at, "What did Putin and Erdogan discuss about Idlib?")


def test_app_bad_setting_is_a_short_error(
    monkeypatch: pytest.MonkeyPatch, built_index: Settings
) -> None:
    monkeypatch.setenv("MANBA_RETRIEVAL__MODE", "fuzzy")
    at = start(monkeypatch, built_index.index_dir)
    assert at.error and "MANBA_RETRIEVAL__MODE" in at.error[0].value
    assert not at.chat_input


def test_app_unexpected_error_on_load_is_a_short_message(
    monkeypatch: pytest.MonkeyPatch,
    built_index: Settings,
    copy_index: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A fresh copy: no engine for this folder is cached yet, so the app really loads one.
    copied = copy_index(built_index)

    def broken(self: Engine, settings: Settings) -> None:
        raise RuntimeError("internal detail")

    monkeypatch.setattr(Engine, "__init__", broken)
    at = start(monkeypatch, copied.index_dir)
    assert at.error, "an error message is shown"
    message = at.error[0].value
    assert str(copied.index_dir) in message and "make index" in message
    assert "internal detail" not in message and "Traceback" not in message
    assert not at.chat_input
    assert "internal detail" in caplog.text, "the error is logged for the operator"


def test_app_unexpected_error_on_ask_is_a_short_message(
    monkeypatch: pytest.MonkeyPatch, built_index: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: Engine, *args: object, **kwargs: object) -> None:
        raise RuntimeError("internal detail")

    at = start(monkeypatch, built_index.index_dir)
    monkeypatch.setattr(Engine, "ask", broken)
    at.chat_input[0].set_value("What did Putin and Erdogan discuss about Idlib?").run()
    assert not at.exception, at.exception
    assert at.error, "an error message is shown"
    message = at.error[0].value
    assert str(built_index.index_dir) in message and "make index" in message
    assert "internal detail" not in message
    assert "internal detail" in caplog.text


def test_app_no_passage_under_the_language_filter(
    monkeypatch: pytest.MonkeyPatch, built_index: Settings
) -> None:
    def nothing(self: Engine, question: str, *args: object, **kwargs: object) -> Answer:
        return Answer(question, "en", "I found no answer.", True, (), ())

    at = start(monkeypatch, built_index.index_dir)
    monkeypatch.setattr(Engine, "ask", nothing)
    ask(at, "What is the capital of Peru?")
    assert "No passage matches the chosen languages." in [i.value for i in at.info]


def test_app_reloads_the_engine_after_an_ingest(
    monkeypatch: pytest.MonkeyPatch,
    hostile_index: Settings,
    copy_index: Callable[..., Settings],
    tmp_path: Path,
) -> None:
    """The cached engine is keyed by the settings (index folder included) and the manifest's
    mtime: a new ingest into the same folder is seen on the next run, no restart needed."""
    copied = copy_index(hostile_index)
    at = ask(start(monkeypatch, copied.index_dir), HOSTILE_QUESTION)
    assert any("zanzibar.txt" in html.unescape(c) for c in source_cards(at))
    more = tmp_path / "more"
    more.mkdir()
    (more / "mombasa.txt").write_text(
        "Mombasa dockworkers strike\n\nDockworkers in Mombasa began a strike on Tuesday over "
        "unpaid wages. The strike closed two berths of the port.\n",
        "utf-8",
    )
    assert index_paths([more], copied).ok
    ask(at, "Why did the dockworkers in Mombasa strike?")
    assert any("mombasa.txt" in html.unescape(c) for c in source_cards(at))


def test_app_cards_say_why_a_passage_in_another_language_matched(
    monkeypatch: pytest.MonkeyPatch, built_index: Settings
) -> None:
    at = ask(start(monkeypatch, built_index.index_dir), "ماذا بحث بوتين وأردوغان بشأن إدلب؟")
    whys = [html.unescape(v) for v in markdowns(at) if 'class="manba-why"' in v]
    assert whys, markdowns(at)
    # An answer in Arabic cites a Persian or English passage too, matched across scripts.
    assert any("name, across scripts" in w or "glossary" in w for w in whys), whys
    langs_cited = {c.lang for c in at.session_state["history"][-1].citations}
    assert len(langs_cited) >= 2, langs_cited


def test_app_connected_mode_shows_translations_and_model(
    monkeypatch: pytest.MonkeyPatch, built_index: Settings
) -> None:
    import json as _json

    from openai_server import serve

    translations = {
        "fa": "اردوغان درباره ادلب از پوتین چه درخواستی کرد؟",
        "ar": "ماذا طلب أردوغان من بوتين بشأن إدلب؟",
    }
    reply = _json.dumps(translations, ensure_ascii=False)
    with serve(lambda messages: reply) as fake:
        monkeypatch.setenv("MANBA_LLM__BASE_URL", fake.base_url)
        monkeypatch.setenv("MANBA_LLM__MAX_RETRIES", "0")
        at = ask(
            start(monkeypatch, built_index.index_dir), "What did Erdogan ask Putin about Idlib?"
        )
    sidebar = " ".join(m.value for m in at.sidebar.markdown)
    assert "fake" not in sidebar and "127.0.0.1" in sidebar, sidebar
    assert "Also searched as the model translated the question:" in [c.value for c in at.caption]
    shown = " ".join(html.unescape(v) for v in markdowns(at))
    assert translations["fa"] in shown and translations["ar"] in shown
    assert fake.requests, "the app asked the model"
