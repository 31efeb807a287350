"""Cross-script phonetic keys: Putin, پوتین and بوتين get the same key, with no list of names.

A key is the word's consonant skeleton in a small alphabet of sound classes that Latin, Persian
and Arabic spellings of one name share. Vowels, long-vowel letters (ا و ی in the middle of a
word), hamza and ain are dropped, because transliterations disagree most on exactly those; the
letters that only one script tells apart are merged (p/b, since Arabic has no p; g/k/q/gh,
written گ, غ, ق or ك for the same name; v/f/w; s/ṣ, t/ṭ, d/ḍ, z/ẓ/ḏ).

Each word gives a *strict* key and a *loose* key: the loose one also drops h, kh, f/v/w and y,
which are written in one script and not the other often enough ("Lavrov" / لاوروف,
"Abdullah" / عبدالله), and merges z into s ("Panthers" / البانثرز). Arabic-script words also
give keys without their article (الكرملين), their conjunction (وبوتين) and Persian plural
endings (ها). Keys of fewer than two consonants are not made: they would match too much.
"""

from __future__ import annotations

import re
from functools import lru_cache

_MIN_KEY = 2

# Latin: digraphs first, then single letters. A lower-case code is a sound class.
_LATIN_DIGRAPHS = [
    ("tch", "c"),
    ("sch", "š"),
    ("sh", "š"),
    ("ch", "c"),
    ("kh", "x"),
    ("gh", "k"),
    ("th", "t"),
    ("dh", "z"),
    ("ph", "f"),
    ("zh", "z"),
    ("ck", "k"),
    ("qu", "k"),
    ("dj", "j"),
]
_LATIN = {
    "b": "b",
    "p": "b",
    "t": "t",
    "d": "d",
    "s": "s",
    "z": "z",
    "j": "j",
    "k": "k",
    "g": "k",
    "q": "k",
    "f": "f",
    "v": "f",
    "l": "l",
    "m": "m",
    "n": "n",
    "r": "r",
    "h": "h",
}
_LATIN_VOWELS = set("aeiouy")

# Arabic script (after ``normalize.clean``: hamza forms of alef are bare alef already).
_ARABIC = {
    "ب": "b",
    "پ": "b",
    "ت": "t",
    "ط": "t",
    "ث": "t",
    "ج": "j",
    "چ": "c",
    "ح": "h",
    "خ": "x",
    "د": "d",
    "ض": "d",
    "ذ": "z",
    "ز": "z",
    "ظ": "z",
    "ژ": "z",
    "ر": "r",
    "س": "s",
    "ص": "s",
    "ش": "š",
    "ف": "f",
    "ق": "k",
    "ک": "k",
    "ك": "k",
    "گ": "k",
    "غ": "k",
    "ل": "l",
    "م": "m",
    "ن": "n",
    "ه": "h",
}
_ARABIC_WEAK = set("اأإآٱءئؤعویيىةۀ")  # vowels, hamza, ain: dropped (see _arabic for و/ی)
_ARABIC_LETTERS = re.compile(r"[\u0600-\u06ff]")
# Attached article and proclitics: و ف ب ك ل with ال, then the article alone.
_ARTICLE = re.compile(r"^(?:[وفبک]?ال|ك?ال|لل)(?=..)")
_PROCLITIC = re.compile(r"^و(?=...)")  # only "and": ب/ل/ف also begin many names
_FA_PLURAL = re.compile(r"(?<=...)(?:های|ها|ان)$")
# Loose keys drop h, kh, f/v/w and y, and merge z into s: Arabic writes the English plural
# and voiced s as ز (البانثرز, Panthers).
_LOOSE_DROP = str.maketrans("z", "s", "hxfy")


def _collapse(codes: list[str]) -> str:
    out: list[str] = []
    for code in codes:
        if not out or out[-1] != code:
            out.append(code)
    return "".join(out)


def _arabic(word: str) -> str:
    codes: list[str] = []
    n = len(word)
    i = 0
    while i < n:
        ch = word[i]
        nxt = word[i + 1] if i + 1 < n else ""
        if ch == "ت" and nxt == "ش":  # Arabic writes ch as tsh: سوتشي
            codes.append("c")
            i += 2
            continue
        if ch == "و" and i == 0:
            codes.append("f")  # word-initial و is a consonant (v/w)
        elif ch in "یيى" and i == 0 and n > 1:
            codes.append("y")
        elif ch == "ه" and i == n - 1 and n > 2:
            pass  # final heh is a vowel in Persian (غزه) and mostly silent in Arabic
        elif ch in _ARABIC_WEAK:
            pass
        elif ch in _ARABIC:
            codes.append(_ARABIC[ch])
        i += 1
    return _collapse(codes)


def _forms(word: str) -> list[str]:
    """The word and its forms without article, proclitic or Persian plural ending."""
    forms = [word]
    bare = _ARTICLE.sub("", word)
    if bare != word:
        forms.append(bare)
    elif _PROCLITIC.match(word):
        forms.append(word[1:])
    plural = _FA_PLURAL.sub("", forms[-1])
    if plural != forms[-1]:
        forms.append(plural)
    return forms


@lru_cache(maxsize=200_000)
def name_keys(
    word: str, strict_only: bool = False, min_len: int = _MIN_KEY, loose_min_len: int = _MIN_KEY
) -> tuple[str, ...]:
    """Phonetic keys of one cleaned word (lower case, no diacritics), Latin or Arabic script.

    Several keys: strict and loose (unless ``strict_only``), and for Arabic-script words those
    of the word without its article, proclitic or Persian plural ending. Strict keys shorter
    than ``min_len`` consonants and loose ones shorter than ``loose_min_len`` are left out:
    they would match too much.
    """
    if _ARABIC_LETTERS.search(word):
        skeletons = [_arabic(form) for form in _forms(word)]
    elif word.isascii():
        skeletons = [_latin_key(word)]
        if len(word) >= 5 and word.endswith("s") and not word.endswith("ss"):
            # A plural or possessive name (Broncos, Reuters') is often written in Arabic
            # script without its s (برونكو).
            skeletons.append(_latin_key(word[:-1]))
    else:
        return ()
    keys: list[str] = []
    for strict in skeletons:
        if len(strict) >= min_len and strict not in keys:
            keys.append(strict)
        loose = _collapse(list(strict.translate(_LOOSE_DROP)))
        if not strict_only and len(loose) >= max(min_len, loose_min_len) and loose not in keys:
            keys.append(loose)
    return tuple(keys)


def _latin_key(word: str) -> str:
    """Latin spelling -> sound classes. Digraphs are read before single letters."""
    codes: list[str] = []
    n = len(word)
    i = 0
    while i < n:
        for src, dst in _LATIN_DIGRAPHS:
            if word.startswith(src, i):
                codes.append(dst)
                i += len(src)
                break
        else:
            ch = word[i]
            nxt = word[i + 1] if i + 1 < n else ""
            if ch == "c":
                codes.append("s" if nxt in ("e", "i", "y") else "k")
            elif ch == "x":
                codes += ["k", "s"]
            elif ch == "w":
                if nxt in _LATIN_VOWELS:
                    codes.append("f")
            elif ch == "y":
                if i == 0 and nxt in _LATIN_VOWELS:
                    codes.append("y")
            elif ch in _LATIN and ch not in _LATIN_VOWELS:
                codes.append(_LATIN[ch])
            i += 1
    return _collapse(codes)
