"""A whole source document in the page, opened at a span that is highlighted.

No script scrolls the page: the text before the span's paragraph is folded into an expander
above it, so the highlighted span is what the reader sees first, with the whole document one
click away. Text is rendered through ``ui.render`` (escaped, Markdown-inert, in its own
direction).
"""

from __future__ import annotations

import streamlit as st

from ui.render import block, safe


def paragraph_start(text: str, start: int) -> int:
    """Where the paragraph holding ``start`` begins (after the previous blank line)."""
    cut = text.rfind("\n\n", 0, start)
    return 0 if cut < 0 else cut + 2


def render_document(
    text: str, lang: str, start: int | None = None, end: int | None = None, key: str = "doc"
) -> None:
    """Show ``text`` whole; with ``start``/``end``, opened at that span, highlighted."""
    if start is None or end is None or not 0 <= start <= end <= len(text):
        st.markdown(block(safe(text), lang), unsafe_allow_html=True)
        return
    head_end = paragraph_start(text, start)
    if head_end > 0:
        with st.expander(f"Beginning of the document ({head_end:,} characters)"):
            st.markdown(block(safe(text[:head_end]), lang), unsafe_allow_html=True)
    body = (
        f"{safe(text[head_end:start])}<mark id='{safe(key)}-span'>{safe(text[start:end])}</mark>"
        f"{safe(text[end:])}"
    )
    st.markdown(block(body, lang), unsafe_allow_html=True)
