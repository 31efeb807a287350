"""HTML for document text in Streamlit: escaped, Markdown-inert, in its own direction.

Document text is data: every character Markdown or HTML would act on is written as an entity,
line breaks become ``<br>``, and each block carries ``dir`` and ``lang`` with
``unicode-bidi: plaintext`` so mixed-direction lines display in order.
"""

from __future__ import annotations

import re

from rag.langs import direction
from rag.types import Citation, Hit

LANG_NAMES = {"fa": "فارسی (fa)", "ar": "العربية (ar)", "en": "English (en)"}
# Characters Markdown would act on, written as entities so document text stays text.
_ENTITIES = {c: f"&#{ord(c)};" for c in "&<>\"'[]()!*_`#|~\\{}+-=.:"}
# Every line break the chunker knows. Markdown ends a line at a bare \r too: a blank line
# (\r\r) would close the HTML block and the rest of the passage would be read as Markdown.
_LINE_BREAK = re.compile(r"\r\n|[\r\n\u2028\u2029]")


def safe(text: str) -> str:
    """Text for an HTML block: escaped, Markdown-inert (no links, no images), line breaks kept
    as ``<br>`` (so the block never contains a line ending of its own)."""
    return _LINE_BREAK.sub("<br>", "".join(_ENTITIES.get(c, c) for c in text))


def block(text: str, lang: str, extra: str = "") -> str:
    return (
        f'<div dir="{direction(lang)}" lang="{lang}" class="manba-text" '
        f'style="unicode-bidi: plaintext; text-align: start; {extra}">{text}</div>'
    )


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
