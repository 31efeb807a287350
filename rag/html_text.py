"""The main text of a saved web page (.html/.htm) with the standard library's HTML parser.

Scripts, styles, navigation, headers, footers, asides, forms and elements whose class or id
names them as menus, comments, sharing or related-news boxes are dropped; when the page has an
<article> (or <main>), only its text is kept. Blocks (p, h1–h6, li, blockquote, ...) become
lines. The extracted text is what Manba stores and cites; the page's <title>/<h1> and its
published-time <meta> become the title and date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

_DROP = frozenset(
    "script style noscript template nav header footer aside form button svg iframe select "
    "option head".split()
)
_BLOCK = frozenset(
    "p div h1 h2 h3 h4 h5 h6 li blockquote section article main tr br figcaption pre dd dt "
    "title".split()
)
_VOID = frozenset("br img hr meta link input area base col embed source track wbr".split())
_NOISE = re.compile(
    r"(?:^|[\s_-])(?:nav|menu|footer|header|sidebar|comment|comments|share|social|related|"
    r"advert|ads?|banner|breadcrumb|cookie|newsletter|subscribe|tags?|popular)(?:$|[\s_-])",
    re.IGNORECASE,
)
_DATE_META = ("article:published_time", "datePublished", "pubdate", "date", "dc.date")


@dataclass
class Page:
    text: str
    title: str = ""
    date: str = ""
    lines: list[str] = field(default_factory=list)


class _Extractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []  # (tag, dropped)
        self.all_lines: list[str] = []
        self.article_lines: list[str] = []
        self.in_article = 0
        self.buf: list[str] = []
        self.title = ""
        self.h1 = ""
        self.date = ""
        self._in_title = False
        self._in_h1 = False

    def _dropped(self) -> bool:
        return any(d for _, d in self.stack)

    def _flush(self) -> None:
        line = " ".join("".join(self.buf).split())
        self.buf = []
        if line:
            self.all_lines.append(line)
            if self.in_article:
                self.article_lines.append(line)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "meta":
            key = a.get("property") or a.get("name") or a.get("itemprop") or ""
            if key in _DATE_META and a.get("content") and not self.date:
                self.date = a["content"]
            return
        if tag in _BLOCK:
            self._flush()
        if tag in _VOID:
            return
        names = f"{a.get('class', '')} {a.get('id', '')} {a.get('role', '')}"
        drop = tag in _DROP or bool(_NOISE.search(names))
        self.stack.append((tag, drop))
        if tag in ("article", "main") and not self._dropped():
            self.in_article += 1
        self._in_title = tag == "title"
        self._in_h1 = tag == "h1" and not self._dropped()

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        if tag in _BLOCK:
            self._flush()
        # Close up to the matching tag (HTML in the wild leaves tags open).
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                if (
                    tag in ("article", "main")
                    and self.in_article
                    and not any(d for _, d in self.stack[:i])
                ):
                    self.in_article -= 1
                del self.stack[i:]
                break
        self._in_title = False
        self._in_h1 = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
            return
        if self._dropped():
            return
        if self._in_h1:
            self.h1 += data
        self.buf.append(data)


def extract(html: str) -> Page:
    """Main text, title and published date of an HTML page; empty text when it has none."""
    parser = _Extractor()
    parser.feed(html)
    parser.close()
    parser._flush()
    lines = parser.article_lines or parser.all_lines
    title = " ".join((parser.h1 or parser.title).split())
    return Page("\n".join(lines) + ("\n" if lines else ""), title, parser.date.strip(), lines)
