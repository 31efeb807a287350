"""Bytes -> text for plain-text inputs: BOM, strict UTF-8, BOM-less UTF-16, then the legacy
Arabic-script code pages chosen by how plausible the decoded letters are.

windows-1256 accepts every byte, so "did not raise" proves nothing: ISO-8859-6 Arabic read as
windows-1256 comes out as Arabic mixed with × and Latin accented letters, and Latin-1 French as
a run of accented letters. Each candidate is scored on its non-ASCII characters; a file no
candidate explains well is reported as doubtful instead of being indexed as gibberish.
Windows-1256 has no Persian yeh: Persian text decodes with Arabic ي, which search folds.
"""

from __future__ import annotations

import codecs
import unicodedata
from dataclasses import dataclass

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


def decode(data: bytes, path: str) -> Decoded:
    """Decode a text file's bytes, or raise IngestError saying why it cannot be trusted."""
    if not data.strip():
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
    if b"\x00" in data[:8192]:
        guessed = _utf16_without_bom(data)
        if guessed is None:
            raise IngestError(
                path,
                "binary content (NUL bytes): not a text file; remove it or convert it "
                "to UTF-8 text",
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
    if scored and scored[0][0] >= _MIN_SCORE:
        return _checked(scored[0][2], scored[0][1], path)
    best = f" (best guess {scored[0][1]}, {scored[0][0]:.0%} plausible)" if scored else ""
    raise IngestError(
        path,
        f"not UTF-8, and no Arabic-script code page decodes it plausibly{best}: the "
        "encoding is doubtful; save the file as UTF-8 and ingest it again",
    )


def _checked(text: str, encoding: str, path: str, controls_ok: bool = False) -> Decoded:
    if not text.strip():
        raise IngestError(path, "the file has no text: nothing to index")
    if not controls_ok and _has_controls(text):
        raise IngestError(
            path,
            f"decoded as {encoding} but contains control characters: "
            "binary or mixed content; convert it to plain UTF-8 text",
        )
    return Decoded(text, encoding)
