"""Citations as data: numbering, rendering markers, parsing them back, resolving to spans.

Markers are ASCII ``[n]``; parsing folds Persian and Arabic digits (``[۳]``, ``[٣]``) and does not
rely on ``\\b``, which fails next to Arabic-script letters.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from rag.types import Citation, Hit

# At most six digits: a longer bracketed number is no citation (and int() of thousands of
# digits raises ValueError). Spaces may pad the number, a line break may not: the answer is
# written one sentence a line, and "[" ending one line must not pair with "0]" on the next.
_MARKER = re.compile(r"\[[^\S\n]*([0-9\u06F0-\u06F9\u0660-\u0669]{1,6})[^\S\n]*\]")
# What a reader of an answer could take for a marker: a bracketed number in any script's digits
# (Python's \d), of any length, padded with spaces or not, on one line (answers are read line
# by line). ``inert_markers`` neutralises all of these in document text, so the answer's
# markers are Manba's alone (ui/render.py reads "[\d+]").
MARKER_LIKE = re.compile(r"\[[^\S\n]*(\d+)[^\S\n]*\]")
_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")


def number_citations(
    spans: list[tuple[Hit, int, int]], doc_text: Callable[[str], str]
) -> tuple[list[Citation], str]:
    """Number cited sentence spans 1..n and render the answer text with ``[n]`` markers.

    ``doc_text(doc_id)`` returns the stored original: each quote is sliced from it, so a
    citation's quote equals the document text at its offsets by construction.
    """
    citations: list[Citation] = []
    lines: list[str] = []
    for n, (hit, start, end) in enumerate(spans, start=1):
        quote = doc_text(hit.doc.doc_id)[start:end]
        citations.append(
            Citation(
                n,
                hit.doc.doc_id,
                hit.doc.title,
                hit.doc.path,
                hit.chunk.lang,
                start,
                end,
                quote,
                hit.chunk.chunk_id,
                hit.chunk.start,
                hit.chunk.end,
            )
        )
        lines.append(f"{inert_markers(quote)} [{n}]")
    return citations, "\n".join(lines)


def inert_markers(text: str) -> str:
    """Document text as shown in an answer or sent to a model: a bracketed number of the
    document's own (a footnote "[3]", a planted "[۲]") is written with full-width brackets so it
    cannot be read back as a citation marker. ``Citation.quote`` keeps the exact original."""
    return MARKER_LIKE.sub(lambda m: f"［{m.group(1)}］", text)


def parse_markers(text: str) -> list[int]:
    """Citation numbers in ``text``, in order of appearance (any digit set)."""
    return [int(m.group(1).translate(_DIGITS)) for m in _MARKER.finditer(text)]


def verify(citation: Citation, doc_text: str) -> bool:
    """True when the citation's quote is exactly the document text at its offsets."""
    return doc_text[citation.start : citation.end] == citation.quote
