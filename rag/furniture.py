"""Page furniture in scraped news: view counters, share and comment forms, tag lines, ad and
"related news" link lists, news codes and datelines. Found line by line with general rules
(known phrases in fa/ar/en, counter-like lines, runs of short link-like lines at the top or
bottom); the text itself is never changed: furniture lines are spans that chunking skips, so
they stay out of the index and of answers while every offset still points into the original.
"""

from __future__ import annotations

import re

from rag.dates import dates_in
from rag.normalize import normalize

Span = tuple[int, int]

_PHRASES = [
    # Persian
    "بازدید", "کد خبر", "اشتراک گذاری", "اشتراک‌گذاری", "برچسب", "تبلیغات", "ارسال نظر",
    "نظر شما", "اخبار مرتبط", "مطالب مرتبط", "لینک کوتاه", "چاپ خبر", "تاریخ انتشار",
    "نظرات", "پربازدیدترین", "پربازدیدترینها", "آخرین اخبار", "دیدگاه", "منبع:",
    # Arabic
    "اترك رد", "اترك تعليقا", "لن يتم نشر عنوان بريدك", "الحقول الإلزامية", "اقرأ أيضا",
    "أخبار ذات صلة", "مواضيع ذات صلة", "شارك", "التعليقات", "تاريخ النشر", "الأكثر قراءة",
    "موقع إخباري", "المصدر:", "جميع الحقوق محفوظة",
    # English
    "leave a reply", "leave a comment", "share this", "share on", "related news",
    "related articles", "read more", "read also", "subscribe", "advertisement", "comments",
    "tags:", "follow us", "all rights reserved", "cookie", "sign up", "newsletter", "source:",
    "your email address will not be published",
]  # fmt: skip
# Whole words only: "شارك" (share) is furniture, "بمشاركة" (with the participation of) is not.
_PHRASE_RE = re.compile(
    r"(?<!\w)(?:" + "|".join(re.escape(normalize(p)) for p in _PHRASES) + r")(?!\w)"
)
# Headers after which the rest of the page is a list of other articles' headlines.
_LIST_HEADERS = re.compile(
    r"(?<!\w)(?:"
    + "|".join(
        re.escape(normalize(p))
        for p in (
            "اخبار مرتبط",
            "مطالب مرتبط",
            "پربازدیدترین",
            "پربازدیدترینها",
            "اقرأ أيضا",
            "أخبار ذات صلة",
            "مواضيع ذات صلة",
            "الأكثر قراءة",
            "related news",
            "related articles",
            "read more",
            "read also",
            "most read",
        )
    )
    + r")(?!\w)"
)
_COUNTER = re.compile(r"^\W*(?:[^\W\d]+\W*){0,2}\d[\d\s.,:/-]*\W*$")
_URL = re.compile(r"^\W*(?:https?://|www\.)\S+\W*$")
_TERMINAL = re.compile(r"[.!?؟؛۔…:»”\"']\s*$")
_MAX_PHRASE_WORDS = 12
_SHORT_WORDS = 5
_EDGE = 12


def _lines(text: str) -> list[tuple[int, int, str]]:
    out = []
    for m in re.finditer(r"[^\n\r]+", text):
        line = m.group()
        if line.strip():
            out.append((m.start(), m.end(), line.strip()))
    return out


def _is_short(line: str) -> bool:
    return len(line.split()) <= _SHORT_WORDS and not _TERMINAL.search(line)


def furniture_spans(text: str, title: str = "") -> list[Span]:
    """Spans (line start, line end) of the furniture lines of ``text``; the title line and
    lines of running prose are never furniture."""
    lines = _lines(text)
    flagged = [False] * len(lines)
    for i, (_, _, line) in enumerate(lines):
        if title and line == title.strip():
            continue
        words = len(line.split())
        # Normalized only when short enough to be a phrase: news lines are often whole
        # paragraphs, and normalizing each was a third of the time spent reading files.
        phrase = words <= _MAX_PHRASE_WORDS and _PHRASE_RE.search(normalize(line))
        # Hashtag lines ("#tag", "# a # b # c"); a Markdown heading ("# Title") is not one.
        tags = bool(re.match(r"#[^\s#]", line)) or line.count("#") >= 3
        if phrase or _COUNTER.match(line) or _URL.match(line) or tags:
            flagged[i] = True
        elif words <= 8 and dates_in(line) and not _TERMINAL.search(line.rstrip(")")):
            flagged[i] = True  # a dateline: its date is kept as metadata
    # After a "related news" header, unpunctuated headline-length lines are the list.
    for i, (_, _, line) in enumerate(lines):
        if flagged[i] and _LIST_HEADERS.search(normalize(line)):
            for k in range(i + 1, len(lines)):
                nxt = lines[k][2]
                if len(nxt.split()) > _MAX_PHRASE_WORDS or _TERMINAL.search(nxt):
                    break
                flagged[k] = True
    # Runs of three or more short, unpunctuated lines near either edge: link lists and ads.
    n = len(lines)
    i = 0
    while i < n:
        j = i
        while j < n and (flagged[j] or _is_short(lines[j][2])) and lines[j][2] != title.strip():
            j += 1
        shorts = sum(1 for k in range(i, j) if not flagged[k])
        if j - i >= 3 and shorts >= 2 and (i >= n - _EDGE or j <= _EDGE):
            for k in range(i, j):
                flagged[k] = True
        i = max(j, i + 1)
    return [(s, e) for (s, e, _), f in zip(lines, flagged, strict=True) if f]


def content_segments(text: str, furniture: list[Span]) -> list[Span]:
    """The stretches of ``text`` between furniture lines, in order."""
    segments = []
    pos = 0
    for start, end in furniture:
        if start > pos and text[pos:start].strip():
            segments.append((pos, start))
        pos = max(pos, end)
    if pos < len(text) and text[pos:].strip():
        segments.append((pos, len(text)))
    return segments
