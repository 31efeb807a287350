"""The Streamlit app, driven headless with streamlit.testing (no server, no browser).

The app reads its settings with rag.config.from_env(), so MANBA_INDEX_DIR is set before each
AppTest is created. Markdown values are the raw strings the app sends: text inside its HTML
blocks is written with character entities, so those are unescaped before looking for "[1]".
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from conftest import ROOT, SAMPLE_EN, SAMPLE_EN2, SAMPLE_FA, sample_id
from streamlit.testing.v1 import AppTest

from rag.config import Settings
from rag.engine import Engine
from rag.indexing import index_paths
from rag.types import Answer, Citation
from ui.export import answer_markdown, md_text
from ui.render import BIDI_CONTROLS, answer_html, safe

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


def cards_by_id(at: AppTest) -> dict[str, str]:
    """The citation cards of the page by their element id (cite-{history position}-{n})."""
    out = {}
    for v in source_cards(at):
        m = re.match(r'<div class="manba-card" id="([^"]+)" lang="(\w+)" dir="(\w+)">', v)
        assert m, v
        out[m.group(1)] = v
    return out


def marker_links(answer_html: str) -> list[tuple[str, str]]:
    """(href, text) of each link in the answer's HTML."""
    return re.findall(r'<a class="manba-marker" href="([^"]+)">(.*?)</a>', answer_html)


def last_answer(at: AppTest) -> Answer:
    answer = at.session_state["history"][-1]
    assert isinstance(answer, Answer)
    return answer


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
    "[click](javascript:alert(1)) <script>alert(2)</script>\u2028"
    "Harbour notice: \u202eyad yreve sevael yrref ehT\u202c and \u2067isolated\u2069 text.\u2028"
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
    # Markdown and JSON downloads for each answer.
    assert len(at.get("download_button")) == 4
    # Each answer's markers point at its own cards: ids never collide across the history.
    ids = [i for v in markdowns(at) for i in re.findall(r'class="manba-card" id="([^"]+)"', v)]
    assert len(ids) == len(set(ids)) and {i.split("-")[1] for i in ids} == {"0", "1"}, ids


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
        for raw in ("](", "http://", "www.", "<img", "<script", "javascript:"):
            assert raw not in value, (raw, value)
        # Bidi controls of the document cannot reorder the page: they are dropped.
        assert not set(value) & set(BIDI_CONTROLS), repr(value)
    shown = html.unescape(" ".join(markdowns(at)))
    assert "<script>alert(2)</script>" in shown, "the script is shown as text"
    assert "yad yreve sevael yrref ehT" in shown
    # Only Manba's own markers are links, and they point at this page's cards.
    hrefs = re.findall(r"<a [^>]*href=\"([^\"]*)\"", " ".join(markdowns(at)))
    assert hrefs and all(re.fullmatch(r"#cite-0-\d+", h) for h in hrefs), hrefs


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
    assert "No passage matches the chosen filters." in [i.value for i in at.info]


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
        monkeypatch.setenv("MANBA_LLM__ANSWERS", "false")
        at = ask(
            start(monkeypatch, built_index.index_dir), "What did Erdogan ask Putin about Idlib?"
        )
    sidebar = " ".join(m.value for m in at.sidebar.markdown)
    assert "fake" not in sidebar and "127.0.0.1" in sidebar, sidebar
    assert "Also searched as the model translated the question:" in [c.value for c in at.caption]
    shown = " ".join(html.unescape(v) for v in markdowns(at))
    assert translations["fa"] in shown and translations["ar"] in shown
    assert fake.requests, "the app asked the model"


QUESTIONS = {
    "en": "What did Putin and Erdogan discuss about Idlib?",
    "fa": "پوتین و اردوغان درباره ادلب چه گفتند؟",
    "ar": "ماذا ناقش بوتين وأردوغان بشأن إدلب؟",
}


@pytest.mark.parametrize("lang", ["fa", "ar", "en"])
def test_app_markers_link_to_numbered_cards(
    monkeypatch: pytest.MonkeyPatch, built_index: Settings, engine: Engine, lang: str
) -> None:
    """Ask in each language: every marker [n] of the answer is an in-page link to the card of
    citation n, which shows the language badge, the passage in its direction, the cited
    sentence highlighted, and the outlet and date when the index knows them."""
    at = ask(start(monkeypatch, built_index.index_dir), QUESTIONS[lang])
    answer = last_answer(at)
    assert not answer.abstained and answer.citations
    links = marker_links(answer_block(at))
    numbers = [c.n for c in answer.citations]
    assert [text for _, text in links] == [f"&#91;{n}&#93;" for n in numbers]
    assert [href for href, _ in links] == [f"#cite-0-{n}" for n in numbers]
    cards = cards_by_id(at)
    assert list(cards) == [f"cite-0-{n}" for n in numbers], "one card per citation, in order"
    for c in answer.citations:
        card = cards[f"cite-0-{c.n}"]
        rtl = c.lang in ("fa", "ar")
        assert f'lang="{c.lang}" dir="{"rtl" if rtl else "ltr"}"' in card
        assert (
            f'<span class="manba-badge manba-badge-{c.lang}" lang="en" dir="ltr">{c.lang}</span>'
            in card
        )
        assert f"<b>[{c.n}]</b>" in card
        assert f"<mark>{safe(c.quote)}</mark>" in card
        info, _ = engine.reader.doc(c.doc_id)
        for known in (info.source, info.date):
            if known:
                assert f"<bdi>{safe(known)}</bdi>" in card, (known, card)
    # The answer's lines are each in their own language's direction.
    for c in answer.citations:
        line = next(b for b in answer_block(at).split("</div>") if f"#cite-0-{c.n}" in b)
        assert f'lang="{c.lang}"' in line
    # The question's language is cited first, and at least one other language beside it.
    assert answer.citations[0].lang == lang
    assert len({c.lang for c in answer.citations}) >= 2


def test_app_card_opens_the_document_at_the_citation(
    monkeypatch: pytest.MonkeyPatch, built_index: Settings
) -> None:
    at = ask(start(monkeypatch, built_index.index_dir), QUESTIONS["en"])
    c = last_answer(at).citations[-1]
    at.button(key=f"open-0-{c.n}").click().run()
    assert not at.exception, at.exception
    opened = [v for v in markdowns(at) if f'<mark id="doc-0-{c.n}-span">' in v]
    assert len(opened) == 1, markdowns(at)
    assert f">{safe(c.quote)}</mark>" in opened[0]
    assert f'dir="{"ltr" if c.lang == "en" else "rtl"}"' in opened[0]


def test_app_markdown_export_has_markers_and_quotes(
    monkeypatch: pytest.MonkeyPatch, built_index: Settings
) -> None:
    at = ask(start(monkeypatch, built_index.index_dir), QUESTIONS["fa"])
    answer = last_answer(at)
    (code,) = at.code
    md = code.value
    assert md.startswith("# " + QUESTIONS["fa"])
    assert "## Sources" in md
    for c in answer.citations:
        assert f" [{c.n}]\n" in md, "the answer keeps its markers"
        assert f"\n{c.n}. **" in md, "a numbered source list"
        assert f"`{c.doc_id}`" in md and f"language {c.lang}" in md
        assert f"   > {md_text(c.quote)}\n" in md + "\n"
    assert "date 2020-03-01" in md, "the dated English sample"


def test_markdown_export_keeps_quotes_exact_when_they_are_plain(engine: Engine) -> None:
    answer = engine.ask(QUESTIONS["en"])
    md = answer_markdown(answer, lambda doc_id: engine.reader.doc(doc_id)[0])
    plain = [c for c in answer.citations if not set(c.quote) & set("\\`*_[]<>&|~")]
    assert plain
    for c in plain:
        assert c.quote in md


def test_markdown_export_of_hostile_text_stays_inert() -> None:
    """The exported Markdown, rendered by a CommonMark renderer with raw HTML allowed, shows
    the document's markup as text: no image, no link, no script, no bidi control."""
    markdown_it = pytest.importorskip("markdown_it")
    quote = (
        "See ![x](http://127.0.0.1:9/x.png) <script>alert(1)</script> [c](javascript:x) \u202eok"
    )
    c = Citation(1, "d`oc", "# Title <b>", "/p", "en", 0, len(quote), quote, "c1", 0, len(quote))
    answer = Answer("q <img src=x>?", "en", f"- {quote} [1] and [7]", False, (c,), ())
    md = answer_markdown(answer, lambda doc_id: None)
    assert not set(md) & set(BIDI_CONTROLS)
    rendered = markdown_it.MarkdownIt("commonmark").render(md)
    for raw in ("<img", "<script", "<a ", "<b>", "<ul>", "<h1># Title"):
        assert raw not in rendered, (raw, rendered)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered
    assert " [1] and \\[7\\]" in md, "only the answer's own citation numbers stay markers"


def test_answer_html_links_only_manbas_markers() -> None:
    """A bracketed number that names no citation stays text; the answer's text is escaped."""
    quote = "Footnote ［3］ and <a href='http://x'>x</a>"
    c = Citation(1, "d", "t", "/p", "ar", 0, 5, quote, "c1", 0, 5)
    out = answer_html(Answer("q", "en", f"{quote} [1] [2]", False, (c,), ()), "4")
    assert marker_links(out) == [("#cite-4-1", "&#91;1&#93;")]
    assert "<a href" not in out and "&#91;2&#93;" in out
    assert 'dir="rtl" lang="ar"' in out, "the line takes the direction of its citation"


def test_safe_drops_bidi_controls() -> None:
    assert safe("a\u202eb\u2066c\u2069\u200fd") == "abcd"


def test_app_language_filter_changes_what_is_cited(
    monkeypatch: pytest.MonkeyPatch, built_index: Settings
) -> None:
    at = start(monkeypatch, built_index.index_dir)
    at.sidebar.multiselect(key="langs").set_value(["fa"]).run()
    ask(at, QUESTIONS["en"])
    answer = last_answer(at)
    assert answer.citations and {c.lang for c in answer.citations} == {"fa"}
    assert "Filters: languages fa" in [c.value for c in at.caption]


def test_app_outlet_filter_changes_what_is_cited(
    monkeypatch: pytest.MonkeyPatch, built_index: Settings
) -> None:
    at = start(monkeypatch, built_index.index_dir)
    outlets = at.sidebar.multiselect(key="outlets")
    assert "Asharq Al-Awsat" in outlets.options
    outlets.set_value(["Asharq Al-Awsat"]).run()
    ask(at, QUESTIONS["en"])
    answer = last_answer(at)
    assert answer.citations
    assert {c.doc_id for c in answer.citations} == {sample_id(SAMPLE_EN2)}
    assert all(h.doc.source == "Asharq Al-Awsat" for h in answer.hits)


@pytest.mark.parametrize(
    ("field", "value", "prefix"),
    [("date_from", "2020-01-01", SAMPLE_EN), ("date_to", "2019-12-31", SAMPLE_EN2)],
)
def test_app_date_filter_changes_what_is_cited(
    monkeypatch: pytest.MonkeyPatch, built_index: Settings, field: str, value: str, prefix: str
) -> None:
    """A date range leaves out the undated Persian and Arabic samples (the help says so)."""
    at = start(monkeypatch, built_index.index_dir)
    box = at.sidebar.date_input(key=field)
    assert "without a known date are left out" in (box.help or "")
    box.set_value(date.fromisoformat(value)).run()
    assert any("left out while a date is set" in c.value for c in at.sidebar.caption)
    ask(at, QUESTIONS["en"])
    answer = last_answer(at)
    assert answer.citations
    assert {c.doc_id for c in answer.citations} == {sample_id(prefix)}
    assert all(h.doc.date for h in answer.hits)


def test_document_opens_near_the_span_of_a_long_line() -> None:
    """A document written as one long line still opens close to the cited span."""
    from ui.document import LEAD, paragraph_start

    text = "First line.\n" + "word " * 1000 + "CITED sentence." + " tail" * 10
    start = text.index("CITED")
    cut = paragraph_start(text, start)
    assert 0 < start - cut <= LEAD and text[cut - 1] == " "
    assert paragraph_start("one\ntwo CITED", 8) == 4, "the start of the span's line"


def _model_reply(messages: list[dict[str, object]]) -> str:
    system = str(messages[0]["content"])
    if "translate search questions" in system:
        return '{"fa": "پوتین و اردوغان درباره ادلب", "ar": "بوتين وأردوغان وإدلب"}'
    if "rewrite the last question" in system:
        return "What did Putin and Erdogan agree about the Sochi deal on Idlib?"
    return "Putin and Erdogan spoke by phone about Idlib [1]. The UN is silent."


def test_app_connected_answer_is_written_cited_and_checked(
    monkeypatch: pytest.MonkeyPatch, built_index: Settings
) -> None:
    from openai_server import serve

    with serve(_model_reply) as fake:
        monkeypatch.setenv("MANBA_LLM__BASE_URL", fake.base_url)
        monkeypatch.setenv("MANBA_LLM__MAX_RETRIES", "0")
        at = ask(start(monkeypatch, built_index.index_dir), "What did Putin and Erdogan discuss?")
        answer = last_answer(at)
        assert answer.generated_by and answer.citations and answer.unsupported == (1,)
        assert fake.requests[-1]["stream"] is True  # the app streams the reply
        captions = [c.value for c in at.caption]
        assert any(c.startswith("Written by") for c in captions), captions
        warnings = [w.value for w in at.warning]
        assert any("cites no source" in w and "The UN is silent" in w for w in warnings)
        assert len(cards_by_id(at)) == len(answer.citations)
        # a follow-up is rewritten into a standalone question, shown under the answer
        ask(at, "And what did they agree?")
        follow = last_answer(at)
    assert follow.standalone == "What did Putin and Erdogan agree about the Sochi deal on Idlib?"
    assert "Asked as a follow-up; searched as:" in [c.value for c in at.caption]


def test_app_model_panel_connects_this_session(
    monkeypatch: pytest.MonkeyPatch, built_index: Settings
) -> None:
    from openai_server import serve

    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    at = start(monkeypatch, built_index.index_dir)
    sidebar = " ".join(m.value for m in at.sidebar.markdown)
    assert "offline" in sidebar
    with serve(_model_reply) as fake:
        at.sidebar.text_input[0].set_value(fake.base_url)
        at.sidebar.text_input[1].set_value("panel-model")
        at.sidebar.button[0].click().run()  # the form's Apply
        assert not at.exception, at.exception
        sidebar = " ".join(m.value for m in at.sidebar.markdown)
        assert "panel-model" in sidebar, sidebar
        ask(at, "What did Putin and Erdogan discuss?")
        assert fake.requests and fake.requests[-1]["model"] == "panel-model"
    assert last_answer(at).generated_by.startswith("panel-model")
