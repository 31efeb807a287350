"""The text layer of a PDF, in logical (reading) order, with pypdf.

pypdf gives a PDF's characters in the order the file draws them. Many PDFs with Persian or
Arabic draw them in *visual* order (left to right on the page, often as presentation-form
glyphs): read as they come, words and lines are reversed and digits end up backwards in plain
mode. So text is taken in pypdf's layout mode (characters in page order, line by line), and
each line that reads backwards is put back into logical order here: the line is checked by the
shapes of its presentation forms (a word cannot start with a final form) or, when there are
none, by how many of its words are Persian/Arabic function words read each way. Runs of Latin
letters and digits keep their own left-to-right order inside a right-to-left line, as the
Unicode bidi algorithm displays them.

Lines are then joined into paragraphs (a blank line ends one), page numbers and headers or
footers repeated on most pages are dropped, and presentation forms become ordinary letters.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from rag.errors import IngestError

_ARABIC = "\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufefc"
_ARABIC_WORD = re.compile(f"[{_ARABIC}]+")
_ARABIC_CHAR = re.compile(f"[{_ARABIC}]")
_LATIN_CHAR = re.compile(r"[A-Za-z\u00c0-\u024f]")
_PRESENTATION = re.compile("[\ufb50-\ufdff\ufe70-\ufefc]+")
# Left-to-right runs inside a right-to-left line: Latin words and numbers (any digit set) with
# the punctuation that joins them (3.5, 2020-03-01, 12:30, 50%, www.example.com).
_LTR_RUN = re.compile(
    r"[A-Za-z\u00c0-\u024f0-9\u0660-\u0669\u06f0-\u06f9]+"
    r"(?:[.,:/%+\-_@'][A-Za-z\u00c0-\u024f0-9\u0660-\u0669\u06f0-\u06f9]+)*%?"
)
_MIRROR = str.maketrans("()[]{}<>«»", ")(][}{><»«")
_SPACES = re.compile(r"[ \t\u00a0]{2,}")
_PAGE_NUMBER = re.compile(r"^[\W_]*[0-9\u0660-\u0669\u06f0-\u06f9]{1,4}[\W_]*$")
# Words frequent in Persian or Arabic prose that read as nothing when reversed.
_FUNCTION_WORDS = frozenset(
    "و در به از که را با این آن است برای تا یا هم بر می شد شده کرد ها های ای نیز اما "
    "في من على إلى الى عن مع أن ان هذا هذه التي الذي كان قد لا ما و ثم أو بين حتى عند بعد "
    "قبل كما".split()
)


@dataclass
class PdfText:
    text: str
    title: str = ""
    pages: int = 0


@lru_cache(maxsize=1024)
def _form(ch: str) -> str:
    """'initial', 'medial', 'final', 'isolated' for a presentation-form letter, else ''."""
    name = unicodedata.name(ch, "")
    for form in ("INITIAL", "MEDIAL", "FINAL", "ISOLATED"):
        if f"{form} FORM" in name:
            return form.lower()
    return ""


def _reads_backwards(line: str) -> bool:
    """Whether the Arabic-script words of ``line`` are stored in visual (reversed) order."""
    words = _ARABIC_WORD.findall(line)
    if not words:
        return False
    if _PRESENTATION.search(line):
        forward = backward = 0
        for word in words:
            first, last = _form(word[0]), _form(word[-1])
            # Read forwards a word starts joined to nothing (initial/isolated) and ends joined
            # to nothing after it (final/isolated); read backwards, the other way round.
            forward += (first == "initial") + (last == "final")
            backward += (first in ("final", "medial")) + (last in ("initial", "medial"))
        if forward != backward:
            return backward > forward
    plain = [unicodedata.normalize("NFKC", w) for w in words]

    def score(ws: list[str]) -> int:
        return sum(
            (w in _FUNCTION_WORDS)
            + w.startswith("ال")
            + (len(w) > 1 and w[-1] in "ةى")
            + (len(w) > 1 and w[0] in "ةى") * -1
            for w in ws
        )

    return score([w[::-1] for w in plain]) > score(plain)


def _reverse_rtl(segment: str) -> str:
    """A right-to-left stretch read in visual order, put into logical order.

    Runs of Latin letters and digits were displayed left to right inside it, so they keep
    their order; everything else is reversed, with mirrored brackets swapped back.
    """
    out: list[str] = []
    pos = 0
    pieces: list[tuple[str, bool]] = []
    for match in _LTR_RUN.finditer(segment):
        if match.start() > pos:
            pieces.append((segment[pos : match.start()], False))
        pieces.append((match.group(), True))
        pos = match.end()
    if pos < len(segment):
        pieces.append((segment[pos:], False))
    for text, ltr in reversed(pieces):
        out.append(text if ltr else text[::-1].translate(_MIRROR))
    return "".join(out)


def logical_line(line: str) -> str:
    """``line`` in logical order (unchanged when it already is), presentation forms resolved."""
    if _reads_backwards(line):
        rtl = len(_ARABIC_CHAR.findall(line))
        ltr = len(_LATIN_CHAR.findall(line))
        if rtl >= ltr:
            line = _reverse_rtl(line)
        else:
            # A left-to-right line with Arabic-script phrases: only those phrases are reversed.
            line = re.sub(
                f"[{_ARABIC}](?:[^A-Za-z\u00c0-\u024f]*[{_ARABIC}])?",
                lambda m: _reverse_rtl(m.group()),
                line,
            )
    return _PRESENTATION.sub(lambda m: unicodedata.normalize("NFKC", m.group()), line)


def _join(lines: list[str]) -> str:
    """Lines of one paragraph joined with spaces; a Latin word hyphenated at a line end is
    joined whole."""
    text = ""
    for line in lines:
        if not text:
            text = line
        elif re.search(r"[A-Za-z]-$", text) and re.match(r"[a-z]", line):
            text = text[:-1] + line
        else:
            text = f"{text} {line}"
    return text


def _page_lines(raw: str) -> list[str]:
    return [_SPACES.sub(" ", line).strip() for line in raw.splitlines()]


def _repeated_edges(pages: list[list[str]]) -> set[str]:
    """Lines found at the top or bottom of most pages: running headers and footers."""
    if len(pages) < 3:
        return set()
    counts: Counter[str] = Counter()
    for lines in pages:
        body = [line for line in lines if line]
        counts.update(set(body[:2] + body[-2:]))
    return {line for line, n in counts.items() if n >= max(3, len(pages) * 0.6)}


def extract(data: bytes, path: str) -> PdfText:
    """The main text of the PDF in ``data``; IngestError naming ``path`` when there is none."""
    from pypdf import PdfReader
    from pypdf.errors import (
        DependencyError,
        FileNotDecryptedError,
        LimitReachedError,
        PdfReadError,
        PyPdfError,
    )

    if b"%PDF-" not in data[:1024]:
        raise IngestError(path, "not a PDF (no %PDF header); is it another kind of file renamed?")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            # Many PDFs are encrypted only to set permissions, with an empty user password.
            try:
                ok = reader.decrypt("")
            except DependencyError as exc:  # AES needs the cryptography package
                raise IngestError(
                    path,
                    f"an encrypted PDF that cannot be opened here ({exc}); install that "
                    "package, or save an unprotected copy",
                ) from exc
            except Exception as exc:  # unsupported encryption algorithms raise here
                raise IngestError(path, f"an encrypted PDF that cannot be opened ({exc})") from exc
            if not ok:
                raise IngestError(
                    path, "an encrypted PDF (it needs a password); save an unprotected copy"
                )
        pages = [_page_lines(page.extract_text(extraction_mode="layout")) for page in reader.pages]
        title = ""
        if reader.metadata is not None and reader.metadata.title:
            title = " ".join(str(reader.metadata.title).split())
    except IngestError:
        raise
    except FileNotDecryptedError as exc:
        raise IngestError(path, "an encrypted PDF (it needs a password)") from exc
    except LimitReachedError as exc:
        # pypdf stops inflating a stream past its limit (75 MB): a decompression bomb, or a
        # page far larger than any text needs.
        raise IngestError(
            path,
            f"refused: a stream in the PDF inflates past pypdf's limit ({exc}); a "
            "decompression bomb or a damaged file",
        ) from exc
    except (
        PdfReadError,
        PyPdfError,
        DependencyError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        OSError,
        IndexError,
        ZeroDivisionError,
    ) as exc:
        raise IngestError(
            path, f"not a readable PDF ({type(exc).__name__}: {exc}); is the file complete?"
        ) from exc
    except RecursionError as exc:
        raise IngestError(path, "not a readable PDF (its structure nests too deeply)") from exc
    repeated = _repeated_edges(pages)
    paragraphs: list[list[str]] = []
    for lines in pages:
        groups: list[list[str]] = [[]]
        for line in lines:
            if line and (line in repeated or _PAGE_NUMBER.match(line)):
                continue
            if line:
                groups[-1].append(logical_line(line))
            elif groups[-1]:
                groups.append([])
        groups = [g for g in groups if g]
        # A paragraph that runs over the page break goes on; one that ended a sentence ends.
        if groups and paragraphs and not re.search(r"[.!?؟…:»\"”]\s*$", paragraphs[-1][-1]):
            paragraphs[-1].extend(groups.pop(0))
        paragraphs.extend(groups)
    text = "\n".join(_join(p) for p in paragraphs)
    if not any(ch.isalpha() for ch in text):
        raise IngestError(
            path,
            "a PDF with no text layer (scanned pages are images); run OCR on it first, "
            "for example with ocrmypdf, and ingest the result",
        )
    return PdfText(text=text, title=title, pages=len(pages))
