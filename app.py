"""Manba's Streamlit front end: reads settings, calls rag/, renders. No pipeline logic here."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from pathlib import Path

import streamlit as st

from rag.config import Settings, from_env
from rag.engine import Engine, answer_to_dict
from rag.errors import ManbaError
from rag.langs import SUPPORTED, direction
from rag.retrieval import Filters
from rag.types import Answer, Citation, Hit

logger = logging.getLogger("manba.app")

LANG_NAMES = {"fa": "فارسی (fa)", "ar": "العربية (ar)", "en": "English (en)"}
# Characters Markdown would act on, written as entities so document text stays text.
_ENTITIES = {c: f"&#{ord(c)};" for c in "&<>\"'[]()!*_`#|~\\{}+-=.:"}
# Every line break the chunker knows. Markdown ends a line at a bare \r too: a blank line
# (\r\r) would close the HTML block and the rest of the passage would be read as Markdown.
_LINE_BREAK = re.compile(r"\r\n|[\r\n\u2028\u2029]")
K_MAX = 20

st.set_page_config(page_title="Manba", page_icon="📚", layout="wide")


def safe(text: str) -> str:
    """Text for an HTML block: escaped, Markdown-inert (no links, no images), line breaks kept
    as ``<br>`` (so the block never contains a line ending of its own)."""
    return _LINE_BREAK.sub("<br>", "".join(_ENTITIES.get(c, c) for c in text))


def block(text: str, lang: str, extra: str = "") -> str:
    return (
        f'<div dir="{direction(lang)}" lang="{lang}" class="manba-text" '
        f'style="unicode-bidi: plaintext; text-align: start; {extra}">{text}</div>'
    )


# One engine for every session (Engine is thread-safe for reads). The key is the whole
# settings object (index folder included) and the manifest's mtime, so a new ingest or other
# settings load a new engine; max_entries=1 lets the old one go. It is not closed on release:
# a session that fetched it before the swap may still be answering with it.
@st.cache_resource(max_entries=1, show_spinner="Loading the index…")
def load_engine(settings: Settings, generation_key: float) -> Engine:
    del generation_key  # part of the cache key only
    return Engine(settings)


def card_head(label: str, title: str, doc_id: str, lang: str, kind: str = "card") -> str:
    """A card's header: label ([n] for a citation), title (isolated, any direction), doc id,
    language. ``kind`` is 'card' for a cited source and 'hit' for a closest passage."""
    return (
        f'<div class="manba-{kind}-head"><b>{label}</b> <bdi>{safe(title)}</bdi> · '
        f"<code>{safe(doc_id)}</code> · {safe(lang)}</div>"
    )


_VIA = {
    "word": "same word",
    "glossary": "glossary",
    "name": "name, across scripts",
    "number": "number",
    "date": "date",
    "translation": "model's translation",
}


def why_matched(h: Hit) -> str:
    """Which question words the passage matched and how, e.g. 'Putin (name, across scripts)'."""
    parts = []
    for query, how, term in h.matched:
        label = _VIA.get(how, how)
        if how == "glossary" and term:
            label += f": {term}"
        parts.append(f"<bdi>{safe(query)}</bdi> ({safe(label)})")
    if not parts:
        return ""
    return f'<div class="manba-why"><small>Matched: {", ".join(parts)}</small></div>'


def passage_html(c: Citation, hit_text: str) -> str:
    """The passage with the cited sentence highlighted."""
    rel_start, rel_end = c.start - c.passage_start, c.end - c.passage_start
    before, quote, after = hit_text[:rel_start], hit_text[rel_start:rel_end], hit_text[rel_end:]
    return block(f"{safe(before)}<mark>{safe(quote)}</mark>{safe(after)}", c.lang)


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


def main() -> None:
    try:
        settings = from_env()
    except ManbaError as err:
        st.error(f"Settings: {err}")
        return
    index_dir = str(settings.index_dir)
    manifest = Path(index_dir) / "manifest.json"
    st.title("Manba · منبع")
    st.caption("Ask in Persian, Arabic or English; every sentence of the answer is cited.")
    if not manifest.exists():
        st.error(
            f"No index at `{index_dir}`. Build one with `make index` or "
            f"`manba ingest PATH --index {index_dir}`."
        )
        return
    try:
        engine = load_engine(settings, manifest.stat().st_mtime)
    except ManbaError as err:
        st.error(str(err))
        return
    except Exception:
        logger.exception("could not load the index at %s", index_dir)
        st.error(
            f"Manba could not open the index at `{index_dir}`. Rebuild it with `make index` "
            f"(or `manba ingest PATH --index {index_dir} --rebuild`), then reload this page."
        )
        return
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


main()
