"""The ask page: a chat whose answers stand beside the passages they cite."""

from __future__ import annotations

import dataclasses
import json
import logging

import streamlit as st

from rag.config import Settings
from rag.engine import Engine, answer_to_dict
from rag.errors import ManbaError
from rag.langs import SUPPORTED
from rag.retrieval import Filters
from rag.types import Answer, Hit
from ui.render import LANG_NAMES, block, card_head, passage_html, safe, why_matched

logger = logging.getLogger("manba.app")
K_MAX = 20


def render_answer(answer: Answer, key: str) -> None:
    """One answer of the history; ``key`` (unique per history item) keys its widgets."""
    left, right = st.columns([3, 2], gap="large")
    hits = {h.chunk.chunk_id: h for h in answer.hits}
    with left:
        st.subheader("Answer")
        for warning in answer.warnings:
            st.warning(warning)
        if answer.abstained:
            st.warning("No answer found in the documents.")
        st.markdown(block(safe(answer.answer), answer.question_lang), unsafe_allow_html=True)
        if answer.translations:
            st.caption("Also searched as the model translated the question:")
            for lang, text in answer.translations:
                st.markdown(block(safe(text), lang, "opacity: 0.8;"), unsafe_allow_html=True)
        st.download_button(
            "Download JSON",
            json.dumps(answer_to_dict(answer), ensure_ascii=False, indent=2),
            file_name="manba-answer.json",
            mime="application/json",
            key=f"download-{key}",
        )
    with right:
        if answer.citations:
            st.subheader("Sources")
            for c in answer.citations:
                hit = hits.get(c.chunk_id)
                with st.container(border=True):
                    st.markdown(
                        card_head(f"[{c.n}]", c.title, c.doc_id, c.lang), unsafe_allow_html=True
                    )
                    if hit:
                        shown, text = c, hit.chunk.text
                    else:  # not among the hits: the quote alone, highlighted whole
                        shown, text = dataclasses.replace(c, passage_start=c.start), c.quote
                    st.markdown(passage_html(shown, text), unsafe_allow_html=True)
                    if hit and hit.matched:
                        st.markdown(why_matched(hit), unsafe_allow_html=True)
        else:
            st.subheader("Closest passages")
            if not answer.hits:
                st.info("No passage matches the chosen languages.")
            for r, h in enumerate(answer.hits, 1):
                render_hit(r, h)


def render_hit(rank: int, h: Hit) -> None:
    with st.container(border=True):
        st.markdown(
            card_head(f"{rank}.", h.doc.title, h.doc.doc_id, h.chunk.lang, "hit"),
            unsafe_allow_html=True,
        )
        st.markdown(block(safe(h.chunk.text), h.chunk.lang), unsafe_allow_html=True)
        if h.matched:
            st.markdown(why_matched(h), unsafe_allow_html=True)


def ask_page(engine: Engine, settings: Settings) -> None:
    index_dir = str(settings.index_dir)
    with st.sidebar:
        st.markdown(f"**Mode:** {engine.mode_label}")
        chosen = st.multiselect(
            "Languages of passages",
            list(SUPPORTED),
            default=[],
            format_func=lambda x: LANG_NAMES[x],
        )
        # MANBA_RETRIEVAL__K may be above what the slider offers: start at the nearest end.
        k = st.slider("Passages", 1, K_MAX, min(max(settings.retrieval.k, 1), K_MAX))
        if st.button("Start over"):
            st.session_state.pop("history", None)
    history: list[Answer] = st.session_state.setdefault("history", [])
    question = st.chat_input("Ask a question · پرسش خود را بنویسید · اكتب سؤالك")
    if question:
        try:
            history.append(engine.ask(question, k, Filters(langs=tuple(chosen))))
        except ManbaError as err:
            st.error(str(err))
        except Exception:
            logger.exception("could not answer %r from %s", question, index_dir)
            st.error(
                f"Manba could not answer from the index at `{index_dir}`: the index may be "
                "damaged. Rebuild it with `make index`, then ask again."
            )
    # Newest first; each item keeps the key of its place in the history, so widgets stay
    # unique and stable as the history grows.
    for i, answer in reversed(list(enumerate(history))):
        with st.chat_message("user"):
            st.markdown(block(safe(answer.question), answer.question_lang), unsafe_allow_html=True)
        with st.chat_message("assistant"):
            render_answer(answer, str(i))
