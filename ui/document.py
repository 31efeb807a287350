"""A whole source document in the page, opened at a span that is highlighted.

No script scrolls the page: the text before the span's paragraph is folded into an expander
above it, so the highlighted span is what the reader sees first, with the whole document one
click away. Text is rendered through ``ui.render`` (escaped, Markdown-inert, bidi controls
dropped, in its own direction).
"""

from __future__ import annotations

import re

import streamlit as st

from ui.render import block, safe

# How much of the span's paragraph is shown before the span at most: a document written as
# one long line still opens near the span, cut at a word boundary.
LEAD = 600
# After the span, this much is shown (to the next line end); a longer rest is folded too, so a
# very long document does not slow the page until the reader asks for it.
TAIL = 8000
_ID = re.compile(r"[^A-Za-z0-9_-]")
_BREAK = re.compile(r"\r\n|[\r\n\u2028\u2029]")


def paragraph_start(text: str, start: int, lead: int = LEAD) -> int:
    """Where the text shown above the span at ``start`` begins: the start of its line (news
    text is a paragraph a line), or, for a line longer than ``lead`` before the span, the
    first word boundary within ``lead`` characters of it."""
    cut = 0
    for m in _BREAK.finditer(text, 0, start):
        cut = m.end()
    if start - cut > lead:
        space = text.find(" ", start - lead, start)
        cut = space + 1 if space >= 0 else start
    return cut


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
    tail_end = len(text)
    if len(text) - end > TAIL:
        line_end = _BREAK.search(text, end + TAIL)
        tail_end = line_end.start() if line_end else len(text)
    mark = f'<mark id="{_ID.sub("", key)}-span">{safe(text[start:end])}</mark>'
    body = f"{safe(text[head_end:start])}{mark}{safe(text[end:tail_end])}"
    st.markdown(block(body, lang), unsafe_allow_html=True)
    if tail_end < len(text):
        with st.expander(f"Rest of the document ({len(text) - tail_end:,} characters)"):
            st.markdown(block(safe(text[tail_end:]), lang), unsafe_allow_html=True)
