"""Saved web pages: the article's main text, title and date; menus, scripts, comments, share
and related-news boxes left out; pages with no main text reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.config import Settings
from rag.engine import Engine
from rag.html_text import extract
from rag.indexing import index_paths
from rag.ingest import iter_sources

PAGES = {
    "fa": (
        """<html><head><title>پوتین و اردوغان | خبرگزاری</title>
<meta property="article:published_time" content="2020-03-01T10:34:00+03:30">
<script>window.ads = ["تبلیغ"];</script><style>.x{color:red}</style></head><body>
<nav><a href="/">صفحه اصلی</a><a href="/pol">سیاسی</a></nav>
<header><div class="logo">تابناک</div></header>
<article><h1>پوتین و اردوغان درباره ادلب گفت‌وگو کردند</h1>
<p>کرملین اعلام کرد که رئیسان جمهور روسیه و ترکیه <b>تلفنی</b> درباره ادلب گفت‌وگو کردند.</p>
<p>دو طرف بر کاهش تنش در منطقه تاکید کردند.</p>
<div class="share-buttons">اشتراک گذاری</div></article>
<aside class="related">اخبار مرتبط: قیمت دلار</aside>
<div id="comments">ارسال نظر</div><footer>کلیه حقوق محفوظ است</footer></body></html>""",
        ["پوتین و اردوغان درباره ادلب گفت‌وگو کردند", "دو طرف بر کاهش تنش"],
        ["صفحه اصلی", "تبلیغ", "اشتراک گذاری", "قیمت دلار", "ارسال نظر", "حقوق محفوظ", "color"],
        "2020-03-01",
    ),
    "ar": (
        """<!doctype html><html lang="ar" dir="rtl"><head><meta charset="utf-8">
<title>الكرملين: اتفاق على خفض التوتر</title></head><body>
<div class="menu"><a>الرئيسية</a> <a>سياسة</a></div>
<main><h1>أردوغان وبوتين يتفقان على تكثيف التشاور</h1>
<p>أكد الطرفان في بيان صدر عن الكرملين ضرورة استمرار الاتصالات بين العسكريين.</p>
<ul><li>وقف إطلاق النار</li><li>خفض التوتر في إدلب</li></ul></main>
<div class="comments-area"><h3>اترك رد</h3><form>البريد الإلكتروني</form></div>
</body></html>""",
        ["أردوغان وبوتين يتفقان", "ضرورة استمرار الاتصالات", "خفض التوتر في إدلب"],
        ["الرئيسية", "اترك رد", "البريد الإلكتروني"],
        "",
    ),
    "en": (
        """<html><head><title>Turkish, Russian ministers discuss Idlib - ARK News</title>
<meta name="date" content="2019-05-21"></head><body>
<div id="header-nav">Home | World | Sport</div>
<div class="content"><h2>Turkish, Russian Defense Ministers Discuss Escalation</h2>
<p>Turkish Defense Minister Hulusi Akar and his Russian counterpart discussed Idlib.</p>
<p>The call came after Russian raids on Syria&#8217;s northwestern provinces.</p></div>
<div class="social-share">Share on X</div><div class="newsletter">Subscribe now</div>
</body></html>""",
        ["Hulusi Akar", "Syria’s northwestern provinces"],
        ["Home | World", "Share on X", "Subscribe now"],
        "2019-05-21",
    ),
}


@pytest.mark.parametrize("lang", sorted(PAGES))
def test_main_text_only(lang: str) -> None:
    html, keep, drop, _ = PAGES[lang]
    page = extract(html)
    for text in keep:
        assert text in page.text, (lang, text)
    for text in drop:
        assert text not in page.text, (lang, text)
    assert page.title


@pytest.mark.parametrize("lang", sorted(PAGES))
def test_ingested_page(tmp_path: Path, lang: str) -> None:
    html, keep, _, date = PAGES[lang]
    path = tmp_path / f"page-{lang}.htm"
    path.write_text(html, encoding="utf-8")
    (doc,) = list(iter_sources([path]))
    assert not isinstance(doc, Exception)
    assert doc.lang == lang
    assert doc.meta["format"] == "html"
    assert doc.meta["date"] == date
    settings = Settings().with_index(tmp_path / "index")
    index_paths([path], settings)
    engine = Engine(settings)
    try:
        hits = engine.search(keep[-1])
        assert hits and keep[-1] in hits[0].chunk.text
        # Citations point into the stored (extracted) text.
        _, stored = engine.reader.doc(doc.doc_id)
        assert stored == doc.text
    finally:
        engine.close()


def test_page_without_main_text_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "empty.html"
    path.write_text(
        "<html><head><script>var a=1;</script></head><body><nav>Home</nav></body></html>",
        encoding="utf-8",
    )
    (err,) = list(iter_sources([path]))
    assert isinstance(err, Exception) and "no main text" in str(err)
    assert str(path) in str(err)
