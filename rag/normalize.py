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
