"""Tokenization, stopwords and stemming for search, per language (never for display).

Order matters: text is ``clean``-ed, split into words, Arabic words are stemmed by Snowball
*before* their letters are folded (the stemmer does not know ی/ک), Persian words are folded
before the Persian stemmer, English words go through Snowball English. Every output token is in
folded form, so Arabic-letter Persian (ي/ك) and Persian-letter text meet in one vocabulary.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources

import Stemmer

from rag import arabic_stem, persian_stem
from rag.normalize import ZWNJ, clean, fold

ANALYZER_VERSION = "9"
_WORD = re.compile(r"[^\W_]+")
# Within a word: runs of Arabic script and runs of anything else.
_SCRIPT_RUN = re.compile(r"[\u0600-\u06FF]+|[^\u0600-\u06FF]+")
# A word whose parts are joined by ZWNJ (harakat may sit inside the parts).
_ZWNJ_WORD = re.compile(r"[^\W_][\w\u064B-\u065F\u0670]*(?:\u200c[\w\u064B-\u065F\u0670]+)+")
_ARABIC_LETTER = re.compile(r"[\u0600-\u06FF]")
_PERSIAN_LETTER = re.compile(r"[پچژگ]")
# Persian words written apart that belong together: verbal prefixes and plural/comparative
# suffixes are joined to their word ("می گیرد" -> "میگیرد", "کتاب ها" -> "کتابها").
_FA_PREFIXES = frozenset({"می", "نمی"})
_FA_SUFFIXES = frozenset({"ها", "های", "هایی", "تر", "ترین", "ای", "اند"})
_BOUND = (
    _FA_PREFIXES
    | _FA_SUFFIXES
    | frozenset(
        {"ی", "ام", "ات", "اش", "مان", "تان", "شان", "ایم", "اید", "است", "ست", "هاست", "ایی"}
    )
)
_local = threading.local()


@lru_cache(maxsize=3)
def stopwords(lang: str) -> frozenset[str]:
    """The team's stopword list for ``lang``, in folded search form."""
    text = resources.files("rag").joinpath(f"resources/stopwords_{lang}.txt").read_text("utf-8")
    words = (line.strip() for line in text.splitlines())
    return frozenset(fold(clean(w)) for w in words if w and not w.startswith("#"))


def _stemmer(name: str) -> Stemmer.Stemmer:
    # PyStemmer objects are not thread-safe: one per thread.
    cache = getattr(_local, "stemmers", None)
    if cache is None:
        cache = _local.stemmers = {}
    if name not in cache:
        cache[name] = Stemmer.Stemmer(name)
    return cache[name]


def words(text: str) -> list[str]:
    """Cleaned words of ``text`` (no stemming, no stopword removal, letters not folded).

    A word is also cut where the script changes ("F-35‌ها" -> 35, ها; "۱۰مين" -> 10, مين),
    so a Latin name or a number with a Persian suffix still meets its bare form.
    """
    return [run for word in _WORD.findall(clean(text)) for run in _SCRIPT_RUN.findall(word)]


def _join_persian(tokens: list[str]) -> list[str]:
    """Re-join Persian prefixes/suffixes written with a space; ZWNJ was already removed.

    Compounds with و ("گفت وگو") get their joined form added beside the parts, so
    "گفت‌وگو", "گفتوگو" and "گفت وگو" share the token "گفتوگو".
    """
    out: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if nxt is not None and tok in _FA_PREFIXES and _ARABIC_LETTER.match(nxt):
            out.append(tok + nxt)
            i += 2
            continue
        if out and tok in _FA_SUFFIXES and _ARABIC_LETTER.match(out[-1]):
            out[-1] += tok
            i += 1
            continue
        if (
            out
            and tok.startswith("و")
            and 3 <= len(tok) <= 4
            and 2 <= len(out[-1]) <= 4
            and _ARABIC_LETTER.match(out[-1])
            and out[-1] not in stopwords("fa")
        ):
            out.append(tok)
            out.append(out[-2] + tok)
            i += 1
            continue
        out.append(tok)
        i += 1
    return out


def _zwnj_parts(text: str) -> list[str]:
    """Content parts of ZWNJ compounds ("رباط‌کریم" -> رباط, کریم), beside the joined word.

    ``clean`` joins the parts; the parts are added too so a query that writes the compound
    with a space still matches. Bound morphemes (ها, می, ...) are not parts of their own.
    """
    extra: list[str] = []
    for match in _ZWNJ_WORD.finditer(text):
        parts = [fold(clean(p)) for p in match.group().split(ZWNJ)]
        content = [p for p in parts if len(p) >= 2 and p not in _BOUND]
        if len(content) >= 2:
            extra.extend(content)
    return extra


def _arabic_script_lang(token: str, lang: str) -> str:
    if lang in ("fa", "ar"):
        return lang
    return "fa" if _PERSIAN_LETTER.search(token) else "ar"


def analyze(text: str, lang: str, *, keep_stopwords: bool = False) -> list[str]:
    """Search tokens of ``text`` written in ``lang`` ('fa', 'ar' or 'en')."""
    raw = words(text)
    if lang == "fa" or (lang != "ar" and any(_PERSIAN_LETTER.search(t) for t in raw)):
        raw = [fold(t) if _ARABIC_LETTER.search(t) else t for t in raw]
        raw = _join_persian(raw)
        if ZWNJ in text:
            raw += _zwnj_parts(text)
    return list(_analyze_tokens(tuple(t for t in raw if t), lang, keep_stopwords))


def _analyze_tokens(raw: tuple[str, ...], lang: str, keep_stopwords: bool) -> Iterable[str]:
    for tok in raw:
        yield from _analyze_token(tok, lang, keep_stopwords)


@lru_cache(maxsize=500_000)
def _analyze_token(tok: str, lang: str, keep_stopwords: bool) -> tuple[str, ...]:
    """The search tokens of one word (none, one, or Arabic's two stems); computed once per
    word: news vocabulary is Zipfian, so nearly every word was seen before."""
    if not _ARABIC_LETTER.search(tok):
        if keep_stopwords or tok not in stopwords("en"):
            return (_stemmer("english").stemWord(tok),)
        return ()
    tok_lang = _arabic_script_lang(tok, lang)
    folded = fold(tok)
    if not folded or (tok_lang == "fa" and folded in _BOUND):
        return ()  # a lone hamza, or a Persian suffix that had no word to join
    if not keep_stopwords and (folded in stopwords(tok_lang) or len(folded) < 2):
        return ()
    if tok_lang == "ar":
        # Snowball and light stems both: Snowball conflates more inflections, the light
        # stem keeps names consistent ("بوتين", "وبوتين"); -0.1/+0.2 R@5 on XQuAD-ar.
        snow = fold(_stemmer("arabic").stemWord(tok))
        light = fold(arabic_stem.stem(tok))
        return (snow,) if light == snow else (snow, light)
    return (persian_stem.stem(folded),)
