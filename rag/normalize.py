"""Text normalization for search and matching only; display text is never changed.

Two steps, because Arabic stemming must see the Arabic letters before they are folded:
``clean`` (Unicode form, controls, diacritics, tatweel, digits, ZWNJ) and ``fold`` (letter
variants: yeh, kaf, alef/hamza, teh marbuta, heh). ``normalize`` applies both.
"""

from __future__ import annotations

import re
import unicodedata

# Bidi controls, zero-width characters other than ZWNJ, BOM, soft hyphen, Arabic letter mark.
_INVISIBLE = dict.fromkeys(
    [0x200B, 0x200D, 0x200E, 0x200F, 0x2060, 0xFEFF, 0x00AD, 0x061C]
    + list(range(0x202A, 0x202F))
    + list(range(0x2066, 0x206A))
)
ZWNJ = "\u200c"
TATWEEL = "\u0640"

# Persian (U+06F0..) and Arabic-Indic (U+0660..) digits to ASCII.
_DIGITS = {0x06F0 + i: str(i) for i in range(10)} | {0x0660 + i: str(i) for i in range(10)}
_DIGITS |= {0x066B: ".", 0x066C: ","}  # Arabic decimal and thousands separators

# Letter variants folded to one canonical (Persian-script) form.
_FOLD = str.maketrans(
    {
        "ي": "ی",
        "ى": "ی",
        "ئ": "ی",
        "ك": "ک",
        "ة": "ه",
        "ۀ": "ه",
        "ھ": "ه",
        "ە": "ه",
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ؤ": "و",
        "ء": "",
    }
)
_SPACES = re.compile(r"\s+")


def _strip_marks(text: str) -> str:
    """Drop combining marks: harakat, Quranic marks, and Latin accents (Erdoğan -> Erdogan).

    NFD first so that precomposed letters (أ = ا + hamza above) lose their mark too; NFC after
    so the Persian/Arabic letters that have no decomposition are left as they are.
    """
    if text.isascii():
        return text  # nothing to decompose or strip
    decomposed = unicodedata.normalize("NFD", text)
    if _ASTRAL.search(decomposed):
        stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    else:
        stripped = decomposed.translate(_BMP_MARKS)
    return unicodedata.normalize("NFC", stripped)


# Combining marks of the Basic Multilingual Plane, deleted by one str.translate (a
# per-character generator was a tenth of ingest time); text beyond the BMP takes the slow path.
_BMP_MARKS = {cp: None for cp in range(0x10000) if unicodedata.combining(chr(cp))}
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def clean(text: str) -> str:
    """Unicode-normalize for search: NFKC, no bidi/zero-width controls, no diacritics or
    tatweel, one digit set, ZWNJ removed (parts of one word are joined), lower case,
    single spaces. Letter variants (ي/ی, ك/ک, ة/ه) are kept for the Arabic stemmer."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.translate(_INVISIBLE).translate(_DIGITS)
    text = text.replace(TATWEEL, "").replace(ZWNJ, "")
    text = unicodedata.normalize("NFKC", _strip_marks(text))
    return _SPACES.sub(" ", text).strip()


def fold(text: str) -> str:
    """Fold Arabic-script letter variants to one form: yeh, kaf, alef/hamza, teh marbuta, heh."""
    return text.translate(_FOLD)


def normalize(text: str) -> str:
    """The search form of a text: ``fold(clean(text))``. Idempotent."""
    return fold(clean(text))


_NON_SPACE = re.compile(r"\S+")


def clean_spans(text: str) -> tuple[str, list[tuple[int, int]]]:
    """``clean(text)`` and, for each of its characters, the span of ``text`` it comes from.

    A letter's span takes in the marks that follow it; a character NFKC expands (ﷲ) gives each
    of its letters its own span; removed characters (controls, tatweel, ZWNJ) map to nothing; a
    space maps to the white space between the words. So every search word points back to an
    exact span of the stored, displayed text (to highlight what matched). Where cleaning a
    word one character at a time would differ from cleaning it whole (a final sigma, NFKC
    joining two letters), its characters all map to the whole word.
    """
    out: list[str] = []
    spans: list[tuple[int, int]] = []
    prev_end = -1
    for word in _NON_SPACE.finditer(text):
        w_start, w_end = word.span()
        whole = clean(word.group())
        if not whole:
            continue
        pieces: list[tuple[str, int, int]] = []
        i = w_start
        while i < w_end:
            j = i + 1
            while j < w_end and unicodedata.combining(text[j]):
                j += 1
            pieces.append((clean(text[i:j]), i, j))
            i = j
        if prev_end >= 0:
            out.append(" ")
            spans.append((prev_end, w_start))
        if "".join(p for p, _, _ in pieces) == whole:
            for piece, a, b in pieces:
                out.extend(piece)
                spans.extend([(a, b)] * len(piece))
        else:
            out.extend(whole)
            spans.extend([(w_start, w_end)] * len(whole))
        prev_end = w_end
    cleaned = "".join(out)
    if cleaned != clean(text):  # not expected; never a wrong span
        whole_text = clean(text)
        return whole_text, [(0, len(text))] * len(whole_text)
    return cleaned, spans
