"""Bytes -> text for plain-text inputs: BOM, strict UTF-8, BOM-less UTF-16, then the legacy
Arabic-script code pages chosen by how plausible the decoded letters are.

windows-1256 accepts every byte, so "did not raise" proves nothing: ISO-8859-6 Arabic read as
windows-1256 comes out as Arabic mixed with × and Latin accented letters, and Latin-1 French as
a run of accented letters. Each candidate is scored on its non-ASCII characters; a file no
candidate explains well is reported as doubtful instead of being indexed as gibberish; one
whose lines are partly UTF-8 and partly not is reported as mixed. A NUL byte anywhere (outside
UTF-16) marks binary content. Large files are scanned without copies of their bytes.
Windows-1256 has no Persian yeh: Persian text decodes with Arabic ي, which search folds.

When both code pages give plausible letters and differ (short texts can: ISO-8859-6 "كتاب" is
windows-1256 "متاب"), the one that reads clearly more like Persian or Arabic wins: letter
pairs likelier under a bigram model of Manba's own word lists (stopwords, the lexicon's Persian
and Arabic cells; no corpus), words of those lists or with the article, no stray harakat. No
clear winner is reported as doubtful, never guessed in silence. On 200 generated samples of
one to eight words per code page (tests/test_encoding_samples.py) 198-200 decode exactly and
the rest are reported (ambiguous single words such as غدا/عدا); before, windows-1256 won every
tie and 17 of 200 ISO-8859-6 samples came back as other letters without a word.
"""

from __future__ import annotations

import codecs
import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from rag.errors import IngestError

LEGACY = ("cp1256", "iso8859_6")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_MIN_SCORE = 0.97
_ARABIC_EXTRA = frozenset("،؛؟٪٫٬ـ")
# High bytes of UTF-16 code units of Arabic/Persian text: ASCII (00), Arabic (06), Arabic
# presentation forms (FB, FE), general punctuation and ZWNJ (20).
_UTF16_HIGH = frozenset({0x00, 0x06, 0xFB, 0xFE, 0x20})
# Arabic-script words with their harakat (a misread byte often becomes one), yeh/kaf folded.
_SCRIPT_WORD = re.compile("[\u0621-\u0652\u0671-\u06d3]+")
_FOLD = str.maketrans("يك", "یک")
_HARAKAT = re.compile("[\u064b-\u0652]")
# A reading wins when its likeness is this much higher (a likelihood ratio of about 20).
_MARGIN = 3.0
_WORD_BONUS = 4.0  # likeness of a known word (or minus, of a word with harakat)
_LIKENESS_SAMPLE = 100_000  # characters of each reading compared


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str


def _plausibility(text: str) -> float:
    """Share of non-ASCII characters that belong in Arabic-script text or ordinary typography.

    An Arabic-script letter glued to a Latin letter ("pr\u0649sident": Latin-1 French read as
    ISO-8859-6) does not count: real text does not mix the scripts inside a word.
    """
    total = good = 0
    for i, c in enumerate(text):
        cp = ord(c)
        if cp <= 0x7F:
            continue
        total += 1
        arabic = 0x0600 <= cp <= 0x06FF or c in _ARABIC_EXTRA or 0x200C <= cp <= 0x200F
        if arabic and c.isalpha():
            before = text[i - 1] if i else " "
            after = text[i + 1] if i + 1 < len(text) else " "
            if (before.isascii() and before.isalpha()) or (after.isascii() and after.isalpha()):
                continue
        if arabic or c in "«»“”‘’–—…•\u00a0" or unicodedata.category(c) == "Zs":
            good += 1
    return good / total if total else 1.0


def _has_controls(text: str) -> bool:
    return any(unicodedata.category(c) == "Cc" and c not in "\n\r\t\f" for c in text)


def _utf16_without_bom(data: bytes) -> str | None:
    """The byte order whose high bytes look like Arabic-script or ASCII UTF-16, if any."""
    if len(data) < 4 or len(data) % 2:
        return None
    head = data[:8192]
    for encoding, high in (("utf-16-le", head[1::2]), ("utf-16-be", head[0::2])):
        if sum(1 for b in high if b in _UTF16_HIGH) >= 0.95 * len(high):
            return encoding
    return None


@lru_cache(maxsize=1)
def _letter_model() -> tuple[Counter[str], Counter[str], frozenset[str]]:
    """Letter bigrams (with word edges ^ and $) and the words of Manba's own Persian and
    Arabic word lists: the stopwords and the lexicon's fa and ar cells (no corpus)."""
    words: list[str] = []
    base = resources.files("rag").joinpath("resources")
    for lang in ("ar", "fa"):
        for line in base.joinpath(f"stopwords_{lang}.txt").read_text("utf-8").splitlines():
            if not line.startswith("#"):
                words += _SCRIPT_WORD.findall(line.translate(_FOLD))
    for part in base.joinpath("lexicon").iterdir():
        if not part.name.endswith(".tsv"):
            continue
        for line in part.read_text("utf-8").splitlines():
            cells = line.split("\t")
            if not line.startswith("#") and len(cells) == 4:
                words += _SCRIPT_WORD.findall(" ".join(cells[2:]).translate(_FOLD))
    pairs: Counter[str] = Counter()
    for word in words:
        edged = f"^{word}$"
        pairs.update(edged[i : i + 2] for i in range(len(edged) - 1))
    firsts: Counter[str] = Counter()
    for pair, n in pairs.items():
        firsts[pair[0]] += n
    return pairs, firsts, frozenset(words)


def _likeness(text: str) -> float:
    """How much ``text``'s Arabic-script words read like Persian or Arabic: the summed
    log-probability of their letter pairs, plus a bonus per word of the word lists and a
    penalty per word with harakat (news is written without them; a misread byte often
    becomes one)."""
    pairs, firsts, known = _letter_model()
    score = 0.0
    for word in _SCRIPT_WORD.findall(text[:_LIKENESS_SAMPLE].translate(_FOLD)):
        if _HARAKAT.search(word):
            score -= _WORD_BONUS
        elif word in known or (word.startswith("ال") and len(word) > 3):
            # A listed word, or one with the article (the lexicon lists nouns without it),
            # which a misread turns into ان or اف.
            score += _WORD_BONUS
        edged = f"^{word}$"
        for i in range(len(edged) - 1):
            pair = edged[i : i + 2]
            score += math.log((pairs[pair] + 0.5) / (firsts[pair[0]] + 50))
    return score


def _choose(path: str, plausible: list[tuple[float, str, str]]) -> tuple[str, str]:
    """(encoding, text) of the plausible reading that reads most like Persian or Arabic;
    IngestError when two readings differ and neither is clearly likelier."""
    first = plausible[0]
    rivals = [c for c in plausible[1:] if c[2] != first[2]]
    if not rivals:
        return first[1], first[2]
    ranked = sorted(
        ((_likeness(text), encoding, text) for _, encoding, text in [first, *rivals]),
        key=lambda r: r[0],
        reverse=True,
    )
    (best, encoding, text), (second, other, _) = ranked[0], ranked[1]
    if best - second >= _MARGIN:
        return encoding, text
    raise IngestError(
        path,
        f"not UTF-8, and it reads as Arabic-script text both as {encoding} and as {other} "
        "(different letters; neither clearly likelier): the encoding is doubtful; save the "
        "file as UTF-8 and ingest it again",
    )


def decode(data: bytes, path: str) -> Decoded:
    """Decode a text file's bytes, or raise IngestError saying why it cannot be trusted."""
    if not data or data.isspace():  # isspace: no stripped copy of a large file
        raise IngestError(path, "the file is empty: nothing to index")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(encoding)
                return _checked(text, encoding, path, controls_ok=True)
            except UnicodeDecodeError as exc:
                raise IngestError(
                    path,
                    f"starts with a {encoding} byte-order mark but is not valid {encoding} "
                    f"(byte {exc.start}); save it again as UTF-8",
                ) from exc
    nul = data.find(b"\x00")
    if nul >= 0:
        # Anywhere in the file, not only its head: a text file with NULs further down is
        # damaged or binary, and a NUL would reach the index as text.
        guessed = _utf16_without_bom(data) if nul < 8192 else None
        if guessed is None:
            raise IngestError(
                path,
                f"binary content (NUL bytes, the first at byte {nul}): not a text file; "
                "remove it or convert it to UTF-8 text",
            )
        try:
            return _checked(data.decode(guessed), guessed, path)
        except UnicodeDecodeError as exc:
            raise IngestError(
                path,
                f"looks like {guessed} without a byte-order mark but "
                "does not decode; save it as UTF-8",
            ) from exc
    try:
        # Valid UTF-8 is strong evidence on its own: control characters in it are the
        # document's own (output layers strip them), not a sign of a wrong guess.
        return _checked(data.decode("utf-8"), "utf-8", path, controls_ok=True)
    except UnicodeDecodeError:
        pass
    scored = []
    for encoding in LEGACY:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if not _has_controls(text):
            scored.append((_plausibility(text), encoding, text))
    scored.sort(key=lambda s: -s[0])
    plausible = [s for s in scored if s[0] >= _MIN_SCORE]
    if plausible:
        encoding, text = _choose(path, plausible)
        return _checked(text, encoding, path)
    best = f" (best guess {scored[0][1]}, {scored[0][0]:.0%} plausible)" if scored else ""
    mixed = _mixed_utf8(data)
    if mixed is not None:
        good, bad = mixed
        raise IngestError(
            path,
            f"mixed encodings: line {good} is UTF-8 but line {bad} is not (another "
            "encoding, or damaged bytes); save the whole file in one encoding, UTF-8, and "
            "ingest it again",
        )
    raise IngestError(
        path,
        f"not UTF-8, and no Arabic-script code page decodes it plausibly{best}: the "
        "encoding is doubtful; save the file as UTF-8 and ingest it again",
    )


def _mixed_utf8(data: bytes) -> tuple[int, int] | None:
    """(a line that is UTF-8 Arabic-script or other non-ASCII text, a line that is not
    UTF-8), both 1-based, when a file mixes the two; None otherwise."""
    good = bad = 0
    for number, line in enumerate(data.splitlines(), start=1):
        if line.isascii():
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            bad = bad or number
        else:
            if not good and _plausibility(text) >= _MIN_SCORE:
                good = number
        if good and bad:
            return good, bad
    return None


def _checked(text: str, encoding: str, path: str, controls_ok: bool = False) -> Decoded:
    if not text or text.isspace():
        raise IngestError(path, "the file has no text: nothing to index")
    if not controls_ok and _has_controls(text):
        raise IngestError(
            path,
            f"decoded as {encoding} but contains control characters: "
            "binary or mixed content; convert it to plain UTF-8 text",
        )
    return Decoded(text, encoding)
