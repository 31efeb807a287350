"""Language identification (fa, ar, en) and text direction.

py3langid restricted to the supported languages decides, helped by script rules: letters only
Persian uses (پ چ ژ گ, and the Persian keyboard's ی ک) and only Arabic uses (ة, ى, the article
ال at a high rate) settle short texts where character statistics are thin. llama-index's
helper calls every Arabic-script text Arabic, so it is not used.
"""

from __future__ import annotations

import copy
import re
import threading
from functools import lru_cache
from typing import Any

from rag.normalize import fold

SUPPORTED = ("fa", "ar", "en")
RTL_LANGS = frozenset({"fa", "ar"})

_ARABIC_SCRIPT = re.compile(r"[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF\uFB50-\uFDFF\uFE70-\uFEFF]")
_LATIN = re.compile(r"[A-Za-z\u00C0-\u024F]")
_PERSIAN_ONLY = re.compile(r"[پچژگ]")
_ARABIC_ONLY = re.compile(r"[ةى]|\bال|\bوال|(?<![\u0600-\u06FF])إ")
# Persian function words and affixes, matched on folded text so that Persian typed with
# Arabic ي/ك (common in older news) is recognised too.
_PERSIAN_HINTS = re.compile(
    r"\u200c|(?<!\S)(?:می|نمی)\S|\S*ها(?:ی|یی)?(?!\S)|(?<!\S)(?:است|را|برای|که|از|با|در|"
    r"روسیه|جمهور|ایران)(?!\S)"
)
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _model() -> Any:
    """py3langid's model (it ships inside the package; 0.6 s to decompress), loaded once."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@lru_cache(maxsize=4)
def _identifier(langs: tuple[str, ...] = SUPPORTED) -> Any:
    """The model restricted to ``langs``: a shallow copy (restricting assigns new arrays)."""
    ident = copy.copy(_model())
    ident.set_languages(list(langs))
    return ident


def load() -> None:
    """Load the language model now (0.6 s of LZMA on first use), not in a first question."""
    _identifier()
    _identifier(("fa", "ar"))


def detect(text: str, default: str = "en") -> str:
    """Return 'fa', 'ar' or 'en' for ``text``; ``default`` when it has no letters."""
    # Letters only: Arabic-script digits and punctuation (۲۰۱۸, ؟, ،) say nothing of language.
    arabic = sum(1 for c in _ARABIC_SCRIPT.findall(text) if c.isalpha())
    latin = len(_LATIN.findall(text))
    if arabic == 0 and latin == 0:
        return default
    if latin > 2 * arabic:
        return "en"
    if arabic > 0 and latin < arabic:
        return _persian_or_arabic(text)
    # Mixed scripts in similar amounts: let the model weigh all three.
    with _lock:
        lang, _ = _identifier().classify(text)
    return str(lang)


_PERSIAN_YEH_KAF_WORD = re.compile(r"\S*[\u06cc\u06a9]\S*")


def _persian_or_arabic(text: str) -> str:
    # Persian keyboards type ی and ک (U+06CC, U+06A9), Arabic ones ي and ك: a word spelled
    # with them is Persian evidence too (once per word), or "ال جی ..." reads as Arabic.
    persian = len(_PERSIAN_ONLY.findall(text)) + len(_PERSIAN_YEH_KAF_WORD.findall(text))
    arabic = len(_ARABIC_ONLY.findall(text))
    words = max(1, len(text.split()))
    # A clear majority of script evidence decides; a few transliterated names do not.
    if persian and persian >= 2 * arabic:
        return "fa"
    if arabic and arabic >= 2 * persian and arabic / words > 0.08:
        return "ar"
    with _lock:
        lang, _ = _identifier(("fa", "ar")).classify(text)
    if lang == "ar" and not arabic and _PERSIAN_HINTS.search(fold(text)):
        return "fa"
    return str(lang)


def direction(lang: str) -> str:
    """'rtl' for Persian and Arabic, 'ltr' otherwise."""
    return "rtl" if lang in RTL_LANGS else "ltr"
