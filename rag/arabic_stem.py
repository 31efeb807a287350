"""A light Arabic stemmer (after Larkey et al.'s Light10) used beside Snowball Arabic.

Snowball strips a leading ب or و from some names but not others ("بوتين" -> "وتين" while
"وبوتين" -> "بوت"), so names and their prefixed forms stop matching. Light stemming removes only
the conjunction و, the article with its prepositions, and frequent suffixes, which keeps names
consistent. It runs on cleaned, unfolded text (ة and ي still distinct).
"""

from __future__ import annotations

from functools import lru_cache

_PREFIXES = ("وال", "بال", "كال", "فال", "لل", "ال")
_SUFFIXES = ("ها", "ان", "ات", "ون", "ين", "يه", "ية", "ه", "ة", "ي")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """Light-stem one cleaned Arabic word."""
    if len(word) > 3 and word.startswith("و"):
        word = word[1:]
    for prefix in _PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= 2:
            word = word[len(prefix) :]
            break
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 2:
            word = word[: -len(suffix)]
    return word
