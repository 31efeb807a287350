"""The ask page: a chat whose answers stand beside the passages they cite.

Each answer is a row of two columns (Streamlit stacks them on a narrow screen): the answer,
its citation markers ``[n]`` linking to the cards (in-page anchors, no script), downloads and
a copyable Markdown version; then one card per citation, numbered like the markers, with
outlet, date, language badge and the passage in its own direction, the cited sentence
highlighted, and a button that opens the whole document at that sentence.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from datetime import date

import streamlit as st

from rag.config import Settings
from rag.engine import Engine, answer_to_dict
from rag.errors import ManbaError
from rag.langs import SUPPORTED, detect
from rag.retrieval import Filters
from rag.store import IndexReader
from rag.types import Answer, Citation, DocInfo, Hit
from ui.document import render_document
from ui.export import answer_markdown
from ui.render import (
    LANG_NAMES,
    STYLE,
    answer_html,
    block,
    card_head,
    citation_card,
    message,
    passage_html,
    safe,
    why_matched,
)

logger = logging.getLogger("manba.app")
K_MAX = 20
DATE_HELP = (
    "Only passages of documents published on or after / before this date. Documents "
    "without a known date are left out while a date is set; with no date set, every "
    "document counts."
)


@dataclasses.dataclass(frozen=True)
class Facets:
    """What the sidebar offers for this index: outlets and the span of known dates."""

    outlets: tuple[str, ...]
    first: date | None
    last: date | None


def _iso(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


@st.cache_data(max_entries=8, show_spinner=False)
def index_facets(index_dir: str, generation: int, _reader: IndexReader) -> Facets:
    """Outlets (as first written, once per spelling ignoring case) and the first and last
    document dates; cached per index folder and generation (``_reader`` is not hashed)."""
    del index_dir, generation  # the cache key only
    outlets: dict[str, str] = {}
    dates: list[date] = []
    for doc in _reader.documents():
        if doc.source.strip():
            outlets.setdefault(doc.source.strip().casefold(), doc.source.strip())
        if doc.date and (d := _iso(doc.date)):
            dates.append(d)
    return Facets(
        tuple(sorted(outlets.values(), key=str.casefold)),
        min(dates) if dates else None,
        max(dates) if dates else None,
    )


def sidebar_filters(engine: Engine, settings: Settings) -> tuple[Filters, int]:
    """The filters and number of passages chosen in the sidebar."""
    facets = index_facets(str(settings.index_dir), engine.reader.generation, engine.reader)
    chosen = st.multiselect(
        "Languages of passages",
        list(SUPPORTED),
        default=[],
        format_func=lambda x: LANG_NAMES[x],
        key="langs",
        help="None chosen: every language.",
    )
    outlets: list[str] = []
    if facets.outlets:
        outlets = st.multiselect(
            "Outlets",
            list(facets.outlets),
            default=[],
            key="outlets",
            help="None chosen: every outlet (documents with no outlet recorded included).",
        )
    else:
        st.caption("No outlet is recorded for the documents of this index.")
    date_from: date | None = None
    date_to: date | None = None
    if facets.first and facets.last:
        date_from = st.date_input(
            "Published from",
            value=None,
            min_value=facets.first,
            max_value=facets.last,
            format="YYYY-MM-DD",
            key="date_from",
            help=DATE_HELP,
        )
        date_to = st.date_input(
            "Published until",
            value=None,
            min_value=facets.first,
            max_value=facets.last,
            format="YYYY-MM-DD",
            key="date_to",
            help=DATE_HELP,
        )
        if date_from or date_to:
            st.caption("Documents without a date are left out while a date is set.")
        if date_from and date_to and date_from > date_to:
            st.warning("The start date is after the end date: no passage can match.")
    else:
        st.caption("No document of this index has a known date.")
    # MANBA_RETRIEVAL__K may be above what the slider offers: start at the nearest end.
    k = st.slider("Passages", 1, K_MAX, min(max(settings.retrieval.k, 1), K_MAX))
    filters = Filters(
        langs=tuple(chosen),
        sources=tuple(outlets),
        date_from=date_from.isoformat() if isinstance(date_from, date) else "",
        date_to=date_to.isoformat() if isinstance(date_to, date) else "",
    )
    return filters, k


def describe(filters: Filters) -> str:
    """The filters in force, in a short line of Markdown ('' when none); outlet names are
    documents' words, written as text (``message``)."""
    parts = []
    if filters.langs:
        parts.append("languages " + ", ".join(message(x) for x in filters.langs))
    if filters.sources:
        parts.append("outlets " + ", ".join(message(x) for x in filters.sources))
    if filters.date_from or filters.date_to:
        dates = f"{filters.date_from or '…'} to {filters.date_to or '…'}"
        parts.append(f"dates {message(dates)}")
    return "Filters: " + "; ".join(parts) if parts else ""


def doc_lookup(engine: Engine, answer: Answer) -> Callable[[str], DocInfo | None]:
    known = {h.doc.doc_id: h.doc for h in answer.hits}

    def info(doc_id: str) -> DocInfo | None:
        if doc_id not in known:
            try:
                known[doc_id] = engine.reader.doc(doc_id)[0]
            except KeyError:
                return None
        return known[doc_id]

    return info


@st.dialog("Source document", width="large")
def show_document(engine: Engine, doc_id: str, start: int, end: int, key: str) -> None:
    """The whole document, opened at ``[start, end)``, highlighted."""
    try:
        info, text = engine.reader.doc(doc_id)
    except KeyError:
        st.error("This document is no longer in the index.")
        return
    st.markdown(
        card_head("", info.title, doc_id, info.lang, "doc", info.source, info.date),
        unsafe_allow_html=True,
    )
    st.caption(
        f"The text as stored; the cited span (characters {start:,}–{end:,} of {len(text):,}) "
        "is highlighted."
    )
    render_document(text, info.lang, start, end, key)


def render_answer(answer: Answer, key: str, engine: Engine) -> None:
    """One answer of the history; ``key`` (unique per history item) keys its widgets and the
    ids of its cards."""
    left, right = st.columns([3, 2], gap="large")
    hits = {h.chunk.chunk_id: h for h in answer.hits}
    info = doc_lookup(engine, answer)
    with left:
        st.subheader("Answer")
        for warning in answer.warnings:
            st.warning(message(warning))
        if answer.abstained:
            st.warning(
                "No answer found in the documents. The closest passages are listed, as leads "
                "to read, not as evidence."
            )
        st.markdown(answer_html(answer, key), unsafe_allow_html=True)
        if answer.standalone:
            st.caption("Asked as a follow-up; searched as:")
            st.markdown(
                block(safe(answer.standalone), answer.question_lang), unsafe_allow_html=True
            )
        if answer.generated_by and not answer.abstained:
            st.caption(
                f"Written by {message(answer.generated_by)}; each citation is checked against the "
                "passage it names and shown on the right."
            )
            lines = answer.answer.split("\n")
            for n in answer.unsupported:
                if n < len(lines):
                    st.warning(
                        "This sentence cites no source, so nothing here supports it: "
                        + message(lines[n])
                    )
            if answer.invented_citations:
                st.warning(
                    f"The model cited {answer.invented_citations} source number(s) it was not "
                    "given; they were removed."
                )
        if answer.translations:
            st.caption("Also searched as the model translated the question:")
            for lang, text in answer.translations:
                st.markdown(block(safe(text), lang, "opacity: 0.8;"), unsafe_allow_html=True)
        markdown = answer_markdown(answer, info)
        st.download_button(
            "Download Markdown",
            markdown,
            file_name="manba-answer.md",
            mime="text/markdown",
            key=f"download-md-{key}",
            on_click="ignore",
            icon=":material/download:",
        )
        st.download_button(
            "Download JSON",
            json.dumps(answer_to_dict(answer), ensure_ascii=False, indent=2),
            file_name="manba-answer.json",
            mime="application/json",
            key=f"download-{key}",
            on_click="ignore",
            icon=":material/download:",
        )
        with st.expander("Copy as Markdown"):
            st.code(markdown, language="markdown", wrap_lines=True)
    with right, st.container(key=f"manba-sources-{key}"):
        if answer.citations:
            st.subheader("Sources")
            for c in answer.citations:
                render_citation(
                    c, hits.get(c.chunk_id), info(c.doc_id), key, engine, answer.question_lang
                )
        else:
            st.subheader("Closest passages")
            if not answer.hits:
                st.info("No passage matches the chosen filters.")
            for r, h in enumerate(answer.hits, 1):
                render_hit(r, h, key, engine)


def render_citation(
    c: Citation,
    hit: Hit | None,
    info: DocInfo | None,
    key: str,
    engine: Engine,
    reader_lang: str = "",
) -> None:
    with st.container(border=True):
        if hit:
            shown, text = c, hit.chunk.text
        else:  # not among the hits: the quote alone, highlighted whole
            shown, text = dataclasses.replace(c, passage_start=c.start), c.quote
        st.markdown(citation_card(key, c, info, passage_html(shown, text)), unsafe_allow_html=True)
        if hit and hit.matched:
            st.markdown(why_matched(hit), unsafe_allow_html=True)
        if st.button(
            "Open in the document",
            key=f"open-{key}-{c.n}",
            type="tertiary",
            icon=":material/article:",
        ):
            show_document(engine, c.doc_id, c.start, c.end, f"doc-{key}-{c.n}")
        if engine.model is not None and reader_lang and reader_lang != c.lang:
            _translation(engine, text, c.lang, reader_lang, f"tr-{key}-{c.n}")


_LANG_LABEL = {"fa": "Persian", "ar": "Arabic", "en": "English"}


def _translation(engine: Engine, text: str, source: str, target: str, key: str) -> None:
    """On demand, the passage translated into the reader's language, under the original."""
    done = st.session_state.get(key)
    if done is None and st.button(
        f"Translate into {_LANG_LABEL.get(target, target)}",
        key=f"btn-{key}",
        type="tertiary",
        icon=":material/translate:",
    ):
        try:
            done = st.session_state[key] = engine.translate_passage(text, source, target)
        except ManbaError as err:
            st.warning(message(str(err)))
    if done:
        st.caption(f"Machine translation by {engine.model.label if engine.model else 'the model'}:")
        st.markdown(block(safe(done), target, "opacity: 0.85;"), unsafe_allow_html=True)


def render_hit(rank: int, h: Hit, key: str = "0", engine: Engine | None = None) -> None:
    with st.container(border=True):
        st.markdown(
            card_head(
                f"{rank}.",
                h.doc.title,
                h.doc.doc_id,
                h.chunk.lang,
                "hit",
                h.doc.source,
                h.doc.date,
            )
            + block(safe(h.chunk.text), h.chunk.lang),
            unsafe_allow_html=True,
        )
        if h.matched:
            st.markdown(why_matched(h), unsafe_allow_html=True)
        if engine is not None and st.button(
            "Open in the document",
            key=f"open-near-{key}-{rank}",
            type="tertiary",
            icon=":material/article:",
        ):
            show_document(engine, h.doc.doc_id, h.chunk.start, h.chunk.end, f"near-{key}-{rank}")


def _ask(engine: Engine, question: str, k: int, filters: Filters) -> Answer:
    """Ask; a model-written answer is shown as it streams in, then replaced by the checked
    answer with its citations (rendered with the history below)."""
    turns = [(a.standalone or a.question, a.answer) for a in st.session_state.get("history", [])]
    if not engine.writes_answers:
        return engine.ask(question, k, filters, history=turns)
    # The streaming bubble lives in a slot emptied afterwards: emptying the text alone left an
    # empty assistant bubble above the conversation until the next run.
    slot = st.empty()
    with slot.container(), st.chat_message("assistant"):
        box = st.empty()
    pieces: list[str] = []
    lang = detect(question)

    def on_text(piece: str) -> None:
        pieces.append(piece)
        box.markdown(block(safe("".join(pieces)) + " ▌", lang), unsafe_allow_html=True)

    try:
        return engine.ask(question, k, filters, on_text=on_text, history=turns)
    finally:
        slot.empty()


def ask_page(engine: Engine, settings: Settings) -> None:
    index_dir = str(settings.index_dir)
    st.html(STYLE)
    with st.sidebar:
        st.markdown(f"**Mode:** {engine.mode_label}")
        filters, k = sidebar_filters(engine, settings)
        if st.button("Start over"):
            st.session_state.pop("history", None)
            st.session_state.pop("asked_with", None)
    history: list[Answer] = st.session_state.setdefault("history", [])
    asked_with: list[str] = st.session_state.setdefault("asked_with", [])
    question = st.chat_input("Ask a question · پرسش خود را بنویسید · اكتب سؤالك")
    if question:
        try:
            answer = _ask(engine, question, k, filters)
        except ManbaError as err:
            st.error(message(str(err)))
        except Exception:
            logger.exception("could not answer %r from %s", question, index_dir)
            st.error(
                f"Manba could not answer from the index at `{index_dir}`: the index may be "
                "damaged. Rebuild it with `make index`, then ask again."
            )
        else:
            del asked_with[len(history) :]
            asked_with += [""] * (len(history) - len(asked_with))
            history.append(answer)
            asked_with.append(describe(filters))
    # Oldest first, the newest answer last, next to the question box (where the chat view
    # keeps its scroll); each item keys its widgets and card ids by its place in the history,
    # so they stay unique and stable as the history grows.
    for i, answer in enumerate(history):
        with st.chat_message("user"):
            st.markdown(block(safe(answer.question), answer.question_lang), unsafe_allow_html=True)
            if i < len(asked_with) and asked_with[i]:
                st.caption(asked_with[i])
        with st.chat_message("assistant"):
            render_answer(answer, str(i), engine)
