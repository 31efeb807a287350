"""HTML for document text in Streamlit: escaped, Markdown-inert, in its own direction.

Document text is data: every character Markdown or HTML would act on is written as an entity,
line breaks become ``<br>``, bidi controls are dropped, and each block carries ``dir`` and
``lang`` with ``unicode-bidi: plaintext`` so mixed-direction lines display in order. The only
markup in the page is the markup written here; the only links are the citation markers Manba
adds to an answer (in-page anchors to its own cards).
"""

from __future__ import annotations

import re

from rag.langs import direction
from rag.types import Answer, Citation, DocInfo, Hit

LANG_NAMES = {"fa": "فارسی (fa)", "ar": "العربية (ar)", "en": "English (en)"}
# Characters Markdown would act on, written as entities so document text stays text.
_ENTITIES = {c: f"&#{ord(c)};" for c in "&<>\"'[]()!*_`#|~\\{}+-=.:"}
# Every line break the chunker knows. Markdown ends a line at a bare \r too: a blank line
# (\r\r) would close the HTML block and the rest of the passage would be read as Markdown.
_LINE_BREAK = re.compile(r"\r\n|[\r\n\u2028\u2029]")
# Bidi controls: embeddings and overrides (LRE RLE PDF LRO RLO), isolates (LRI RLI FSI PDI)
# and the marks (LRM RLM ALM). An override in a document would display its text reversed
# (a "Trojan source" line); every block sets its own direction, so none is needed to read it.
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
_DROP_BIDI = str.maketrans(dict.fromkeys(BIDI_CONTROLS))
# Citation markers as Manba writes them into an answer ("[n]", ASCII). A bracketed number of
# a document's own is written with full-width brackets (rag.citations._inert), so an ASCII
# marker in an answer is always Manba's.
_MARKER = re.compile(r"\[(\d+)\]")

# Injected once per run (ui.ask.ask_page): a font stack that renders Persian and Arabic well
# with whatever the reader's system has (nothing is downloaded), cards, badges, the answer's
# marker links, and long words (URLs, ids) wrapped so a phone never scrolls sideways.
_ARABIC_FONTS = '"Vazirmatn", "Noto Naskh Arabic", "Noto Sans Arabic", "DejaVu Sans", sans-serif'
STYLE = f"""<style>
.manba-text, .manba-card, .manba-doc {{ overflow-wrap: anywhere; }}
.manba-text:lang(fa), .manba-text:lang(ar), .manba-title:lang(fa), .manba-title:lang(ar) {{
  font-family: {_ARABIC_FONTS}; line-height: 1.9; }}
.manba-card, .manba-card-head, .manba-hit-head, .manba-doc-head, .manba-title {{
  text-align: start; }}
.manba-card {{ scroll-margin-top: 4.5rem; }}
/* Wide screens: the sources column scrolls on its own beside the answer (narrow screens
   stack the columns and the page scrolls). */
@media (min-width: 640px) {{
  [class*="st-key-manba-sources-"] {{ max-height: 72vh; overflow-y: auto; overflow-x: hidden;
    padding-right: 0.4rem; }}
}}
.manba-card:target {{ outline: 2px solid #f0b400; outline-offset: 6px; border-radius: 4px; }}
.manba-card-head {{ margin-bottom: 0.4rem; }}
.manba-title {{ font-weight: 600; unicode-bidi: plaintext; }}
.manba-meta {{ font-size: 0.85em; opacity: 0.8; unicode-bidi: plaintext; }}
.manba-meta code {{ overflow-wrap: anywhere; white-space: normal; }}
.manba-badge {{ display: inline-block; padding: 0 0.45em; border-radius: 0.6em;
  font-size: 0.8em; font-weight: 600; border: 1px solid currentColor; direction: ltr; }}
.manba-badge-fa {{ color: #1b7f3b; }} .manba-badge-ar {{ color: #8a5a00; }}
.manba-badge-en {{ color: #1f5fbf; }}
.manba-num {{ font-weight: 700; }}
.manba-answer .manba-text {{ margin-bottom: 0.5rem; }}
a.manba-marker {{ text-decoration: none; font-weight: 600; white-space: nowrap;
  font-size: 0.85em; }}
.manba-text mark {{ padding: 0 0.1em; }}
</style>"""


def safe(text: str) -> str:
    """Text for an HTML block: escaped, Markdown-inert (no links, no images), bidi controls
    dropped, line breaks kept as ``<br>`` (so the block never contains a line ending of its
    own)."""
    text = text.translate(_DROP_BIDI)
    return _LINE_BREAK.sub("<br>", "".join(_ENTITIES.get(c, c) for c in text))


# Markdown outside an HTML block also makes links of bare URLs and e-mail addresses ("GFM
# autolink literals": http://, https://, www., mailto:, xmpp:, a@b.c, matched on the decoded
# text, so entities do not stop them): a word joiner (invisible) breaks each such pattern.
_AUTOLINK = re.compile(
    r"(?<=http)(?=:)|(?<=https)(?=:)|(?<=mailto)(?=:)|(?<=xmpp)(?=:)|(?<=www)(?=\.)|(?=@)",
    re.IGNORECASE,
)


def message(text: str) -> str:
    """Text for Markdown elements (``st.warning``, ``st.error``, ``st.caption``): escaped as
    ``safe`` does, on one line and with no autolink, so a model's reply or a document's words
    quoted in a message stay text (no image is fetched, no link is made)."""
    return safe(_AUTOLINK.sub("\u2060", " ".join(text.split())))


def block(text: str, lang: str, extra: str = "") -> str:
    return (
        f'<div dir="{direction(lang)}" lang="{lang}" class="manba-text" '
        f'style="unicode-bidi: plaintext; text-align: start; {extra}">{text}</div>'
    )


def badge(lang: str) -> str:
    """A small language badge: fa, ar or en."""
    code = safe(lang)
    return f'<span class="manba-badge manba-badge-{code}" lang="en" dir="ltr">{code}</span>'


def card_head(
    label: str,
    title: str,
    doc_id: str,
    lang: str,
    kind: str = "card",
    source: str = "",
    date: str = "",
) -> str:
    """A card's header: label ([n] for a citation), language badge, title (in its own
    direction), then outlet, date and doc id when known. ``kind`` is 'card' for a cited source
    and 'hit' for a closest passage."""
    meta = [f"<bdi>{safe(source)}</bdi>"] if source else []
    if date:
        meta.append(f"<bdi>{safe(date)}</bdi>")
    meta.append(f"<code>{safe(doc_id)}</code>")
    return (
        f'<div class="manba-{kind}-head">'
        + (f'<span class="manba-num"><b>{label}</b></span> ' if label else "")
        + f"{badge(lang)} "
        f'<div class="manba-title" dir="{direction(lang)}" lang="{lang}">{safe(title)}</div>'
        f'<div class="manba-meta" dir="ltr">{" · ".join(meta)}</div></div>'
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


def highlighted(text: str, start: int, end: int) -> str:
    """``text`` escaped, with ``text[start:end]`` in a ``<mark>``."""
    return f"{safe(text[:start])}<mark>{safe(text[start:end])}</mark>{safe(text[end:])}"


def passage_html(c: Citation, hit_text: str) -> str:
    """The passage with the cited sentence highlighted."""
    rel_start, rel_end = c.start - c.passage_start, c.end - c.passage_start
    return block(highlighted(hit_text, rel_start, rel_end), c.lang)


def anchor(key: str, n: int) -> str:
    """The id of citation ``n``'s card in the answer keyed ``key`` (a history position)."""
    return f"cite-{safe(key)}-{n}"


def citation_card(key: str, c: Citation, info: DocInfo | None, passage: str) -> str:
    """A cited passage's card: id ``cite-{key}-{n}`` (the target of the answer's marker
    ``[n]``), in the passage's direction, with its header and ``passage`` (HTML)."""
    return (
        f'<div class="manba-card" id="{anchor(key, c.n)}" lang="{c.lang}" '
        f'dir="{direction(c.lang)}">'
        + card_head(
            f"[{c.n}]",
            c.title,
            c.doc_id,
            c.lang,
            source=info.source if info else "",
            date=info.date if info else "",
        )
        + passage
        + "</div>"
    )


def answer_html(answer: Answer, key: str) -> str:
    """The answer, one block per line in that line's language, its citation markers links
    to the cards. Everything else is escaped text: only a marker naming one of the answer's
    citations becomes a link."""
    langs = {c.n: c.lang for c in answer.citations}
    lines = []
    for line in _LINE_BREAK.split(answer.answer):
        if not line.strip():
            continue
        parts: list[str] = []
        line_lang = ""
        pos = 0
        for m in _MARKER.finditer(line):
            n = int(m.group(1))
            if n not in langs:
                continue
            line_lang = line_lang or langs[n]
            parts.append(safe(line[pos : m.start()]))
            parts.append(f'<a class="manba-marker" href="#{anchor(key, n)}">&#91;{n}&#93;</a>')
            pos = m.end()
        parts.append(safe(line[pos:]))
        lines.append(block("".join(parts), line_lang or answer.question_lang))
    return f'<div class="manba-answer">{"".join(lines)}</div>'
