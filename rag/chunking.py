"""Sentence-aware, token-bounded chunks that keep exact character offsets.

Sentences end at . ! ? ؟ ؛ ۔ … (with any closing quotes « » “ ” after them) and at line breaks.
Chunks are runs of whole sentences up to ``max_tokens`` (tiktoken), overlapping by whole
sentences up to ``overlap_tokens``; a sentence longer than a chunk is cut at spaces. Offsets are
produced here and never searched for later: ``text[c.start:c.end] == c.text`` always.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llama_index.core.node_parser import NodeParser
from llama_index.core.schema import BaseNode, Document, TextNode
from pydantic import Field

from rag import tokens
from rag.furniture import content_segments

Span = tuple[int, int]

# A terminal mark ends a sentence before white space, or directly before an Arabic-script
# letter: Persian and Arabic news often omit the space ("آغاز کنیم.وی گفت").
_TERMINAL = re.compile(r"[.!?؟؛۔…]+[\"'”’»)\]]*(?=\s|$|[\u0621-\u064A\u0671-\u06D3])")
_ABBREVIATIONS = frozenset(
    (
        "mr mrs ms dr prof st jr sr gen col lt sgt capt gov sen rep rev messrs vs etc inc ltd co "
        "corp jan feb mar apr jun jul aug sep sept oct nov dec no nos fig al e.g i.e u.s u.k u.n "
        "a.m p.m"
    ).split()
)
_PREV_WORD = re.compile(r"([\w.]+)$")


@dataclass(frozen=True)
class ChunkSpan:
    """One chunk of a document: offsets into the original text and its sentences."""

    ord: int
    start: int
    end: int
    sentences: tuple[Span, ...]


def _is_abbreviation(text: str, line_start: int, dot: int) -> bool:
    """True when the '.' at ``dot`` ends an abbreviation or an initial, not a sentence."""
    # A bounded look-back: searching from the line's start made long lines quadratic.
    match = _PREV_WORD.search(text, max(line_start, dot - 64), dot)
    if not match:
        return False
    word = match.group(1).lower().rstrip(".")
    if word in _ABBREVIATIONS:
        return True
    # A single Latin capital ("J. Smith", "U.S.") is an initial.
    return len(word) == 1 and word.isascii() and word.isalpha()


def split_sentences(text: str) -> list[Span]:
    """Sentence spans of ``text`` (whitespace trimmed, none empty), in order."""
    spans: list[Span] = []
    for line in re.finditer(r"[^\n\r\u2028\u2029]+", text):
        line_start, line_end = line.span()
        start = line_start
        for term in _TERMINAL.finditer(text, line_start, line_end):
            single_dot = term.group().startswith(".") and len(term.group().rstrip("\"'”’»)]")) == 1
            if single_dot and _is_abbreviation(text, line_start, term.start()):
                continue
            _add_trimmed(text, start, term.end(), spans)
            start = term.end()
        _add_trimmed(text, start, line_end, spans)
    return spans


def _add_trimmed(text: str, start: int, end: int, spans: list[Span]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))


def _cut_long(
    text: str, span: Span, n_tokens: int, max_tokens: int, encoding: str = "o200k_base"
) -> list[Span]:
    """Cut a sentence longer than ``max_tokens`` at spaces into pieces that fit, cutting a
    piece again (hard, where it has no space) until it fits: emoji or CJK runs have many more
    tokens per character than the average."""
    out: list[Span] = []
    for piece in _cut_once(text, span, n_tokens, max_tokens):
        n = tokens.count([text[piece[0] : piece[1]]], encoding)[0]
        if n <= max_tokens or piece[1] - piece[0] <= 1:
            out.append(piece)
        else:
            out.extend(_cut_long(text, piece, n, max_tokens, encoding))
    return out


def _cut_once(text: str, span: Span, n_tokens: int, max_tokens: int) -> list[Span]:
    start, end = span
    pieces = max(2, -(-n_tokens // max_tokens))
    target = max(1, (end - start) // pieces)
    out: list[Span] = []
    while end - start > target:
        cut = text.rfind(" ", start + 1, start + target + 1)
        if cut <= start:
            cut = start + target  # no space (a URL, an unbroken line): cut hard
        _add_trimmed(text, start, cut, out)
        start = cut
    _add_trimmed(text, start, end, out)
    return out


def chunk_spans(
    text: str,
    max_tokens: int = 200,
    overlap_tokens: int = 40,
    encoding: str = "o200k_base",
    skip: Sequence[Span] = (),
) -> list[ChunkSpan]:
    """Split ``text`` into sentence-aligned chunks of at most ``max_tokens`` tokens.

    ``skip`` spans (page furniture) are left out: the stretches between them are chunked
    separately, so no chunk contains or straddles a skipped span; offsets stay absolute.
    """
    if not skip:
        return _chunk_spans(text, max_tokens, overlap_tokens, encoding)
    chunks: list[ChunkSpan] = []
    for seg_start, seg_end in content_segments(text, sorted(skip)):
        for c in _chunk_spans(text[seg_start:seg_end], max_tokens, overlap_tokens, encoding):
            sentences = tuple((s + seg_start, e + seg_start) for s, e in c.sentences)
            chunks.append(ChunkSpan(len(chunks), c.start + seg_start, c.end + seg_start, sentences))
    return chunks


def _chunk_spans(text: str, max_tokens: int, overlap_tokens: int, encoding: str) -> list[ChunkSpan]:
    if max_tokens < 8:
        raise ValueError("max_tokens must be at least 8")
    if not 0 <= overlap_tokens < max_tokens:
        raise ValueError("overlap_tokens must be between 0 and max_tokens - 1")
    sentences = split_sentences(text)
    counts = tokens.count([text[s:e] for s, e in sentences], encoding)
    units: list[Span] = []
    unit_tokens: list[int] = []
    for span, n in zip(sentences, counts, strict=True):
        if n <= max_tokens:
            units.append(span)
            unit_tokens.append(n)
            continue
        pieces = _cut_long(text, span, n, max_tokens, encoding)
        units.extend(pieces)
        unit_tokens.extend(tokens.count([text[s:e] for s, e in pieces], encoding))
    chunks: list[ChunkSpan] = []
    i = 0
    fresh = 0  # the first unit no chunk holds yet
    while i < len(units):
        j, total = i, unit_tokens[i]
        while j + 1 < len(units) and total + unit_tokens[j + 1] <= max_tokens:
            j += 1
            total += unit_tokens[j]
        # Sentence counts ignore the space between sentences and BPE merges across it:
        # check the joined text and give back trailing sentences until it fits.
        while j > i and tokens.count([text[units[i][0] : units[j][1]]], encoding)[0] > max_tokens:
            j -= 1
        if j < fresh:
            # Only the overlap fits with the new sentence counted as joined: a chunk of
            # nothing new would repeat the last one. Start at the new sentence instead.
            i = fresh
            continue
        chunk_units = tuple(units[i : j + 1])
        chunks.append(ChunkSpan(len(chunks), chunk_units[0][0], chunk_units[-1][1], chunk_units))
        if j + 1 >= len(units):
            break
        fresh = j + 1
        # Next chunk starts with the trailing sentences that fit in the overlap budget.
        k, budget = j + 1, 0
        while k - 1 > i and budget + unit_tokens[k - 1] <= overlap_tokens:
            k -= 1
            budget += unit_tokens[k]
        # The overlap must leave room for the next new sentence, or the next chunk would only
        # repeat text already in this one.
        while k <= j and budget + unit_tokens[j + 1] > max_tokens:
            budget -= unit_tokens[k]
            k += 1
        i = k
    return chunks


class SentenceChunker(NodeParser):
    """llama-index node parser over ``chunk_spans``: TextNodes with exact offsets.

    llama-index's own post-processing recovers offsets with ``str.find`` (wrong for repeated
    passages) and its sentence regex ignores ، ؛ ؟; both are replaced here.
    """

    max_tokens: int = Field(default=200, description="Largest chunk, in tiktoken tokens.")
    overlap_tokens: int = Field(default=40, description="Whole sentences repeated, in tokens.")
    encoding: str = Field(default="o200k_base", description="tiktoken encoding for counting.")

    def _parse_nodes(
        self, nodes: Sequence[BaseNode], show_progress: bool = False, **kwargs: Any
    ) -> list[BaseNode]:
        out: list[BaseNode] = []
        for node in nodes:
            text = node.get_content()
            doc_id = node.metadata.get("doc_id", node.node_id)
            # The content hash in the id: a changed document never shares a chunk id with
            # its old version, so stale vectors cannot survive under a reused id.
            version = str(node.metadata.get("content_hash", ""))[:12]
            prefix = f"{doc_id}::{version}" if version else doc_id
            skip = [(int(a), int(b)) for a, b in node.metadata.get("furniture", [])]
            spans = chunk_spans(text, self.max_tokens, self.overlap_tokens, self.encoding, skip)
            for span in spans:
                out.append(
                    TextNode(
                        id_=f"{prefix}::{span.ord}",
                        text=text[span.start : span.end],
                        start_char_idx=span.start,
                        end_char_idx=span.end,
                        metadata={
                            **node.metadata,
                            "ord": span.ord,
                            "sentences": [list(s) for s in span.sentences],
                        },
                        excluded_embed_metadata_keys=[*list(node.metadata), "ord", "sentences"],
                        excluded_llm_metadata_keys=[*list(node.metadata), "ord", "sentences"],
                    )
                )
        return out

    def _postprocess_parsed_nodes(
        self, nodes: list[BaseNode], parent_doc_map: dict[str, Document]
    ) -> list[BaseNode]:
        # Keep the offsets made above; llama-index would re-find them with str.find.
        return nodes
