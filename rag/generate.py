"""Connected mode: the model writes the answer from numbered sources, and the code checks it.

The top passages are packed into the prompt, whole sentences only, within a token budget
(tiktoken). The reply's citation markers are parsed back (any digit set): a number that names
no source is removed and counted; each valid one resolves to the sentence of its passage that
best matches the answer sentence, so every citation is an exact span of a stored document. A
sentence left with no valid citation is flagged. The fixed phrase ``NO_ANSWER`` is read as an
abstention. A model that fails gives way to the offline extractive answer, labelled as such.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from rag import crossling, prompts, tokens
from rag.analysis import analyze
from rag.citations import MARKER_LIKE, inert_markers, parse_markers
from rag.types import Citation, Hit

NO_ANSWER = "NO_ANSWER"
LANG_NAMES = {"fa": "Persian", "ar": "Arabic", "en": "English"}
# Markers are taken out of the model's sentences in every form a reader could see as one
# (citations.MARKER_LIKE); parse_markers says which of them name a source.
_MARKER = re.compile(r"\s*" + MARKER_LIKE.pattern)
# A line break always ends a sentence (the answer is shown one sentence a line, and
# ``unsupported`` counts lines); so do . ! ? ؟ and a citation marker before white space.
_SENTENCE_END = re.compile(r"\s*\n\s*|(?<=[.!?؟])\s+|(?<=\])\s+(?=[^\[\s])")


@dataclass(frozen=True)
class Source:
    n: int
    hit: Hit
    start: int  # the packed part of the passage: absolute offsets in the document
    end: int
    text: str


@dataclass(frozen=True)
class Written:
    """The model's answer after checking: text with renumbered markers, citations as spans."""

    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    invented: int  # citation numbers that named no source, removed
    unsupported: tuple[int, ...]  # indexes of sentences with no valid citation
    sentences: tuple[str, ...]


def pack(
    hits: list[Hit], doc_text: Callable[[str], str], budget: int, encoding: str = "o200k_base"
) -> list[Source]:
    """The passages that fit ``budget`` tokens, in rank order; a passage that does not fit
    whole gives its leading sentences that do (never a cut sentence)."""
    out: list[Source] = []
    used = 0
    for hit in hits:
        text = doc_text(hit.doc.doc_id)
        spans = list(hit.chunk.sentences) or [(hit.chunk.start, hit.chunk.end)]
        costs = tokens.count([text[s:e] for s, e in spans], encoding)
        take = 0
        total = 12  # the source tag's own tokens
        for cost in costs:
            if used + total + cost > budget:
                break
            total += cost
            take += 1
        if take == 0:
            if out:
                continue  # a later, shorter passage may still fit
            break
        start, end = spans[0][0], spans[take - 1][1]
        used += total
        out.append(Source(len(out) + 1, hit, start, end, text[start:end]))
    return out


def render_sources(sources: list[Source]) -> str:
    """The numbered sources of the prompt, each between ``<source ...>`` and ``</source>``.

    Document text is data: nothing in it can end its source early, open another one or pass
    for a citation (see ``as_data``); the tags and their attributes are the only markup."""
    return "\n".join(
        f'<source n="{s.n}" lang="{s.hit.chunk.lang}" title="{_attr(s.hit.doc.title)}">\n'
        f"{as_data(s.text)}\n</source>"
        for s in sources
    )


# "<source", "</source", "< / SOURCE" ...: a tag of the prompt's own, written in a document.
_TAG = re.compile(r"<(?=\s*/?\s*source)", re.IGNORECASE)


def as_data(text: str) -> str:
    """Document text as it goes into a prompt: a tag-like ``<source``/``</source`` gets a
    look-alike bracket (‹), so it cannot close its source early or open a fake one, and the
    document's own bracketed numbers ("[1]", "[۲]", "[٣]") get full-width brackets, so neither
    the model nor the reply's checker can take them for citations of a source."""
    return inert_markers(_TAG.sub("\u2039", text))


def _attr(value: str) -> str:
    return as_data(value).replace('"', "'").replace("\n", " ").replace(">", "\u203a")[:120]


def messages(question: str, answer_lang: str, sources: list[Source]) -> tuple[str, str]:
    return prompts.load("answer").render(
        question=question,
        answer_lang=LANG_NAMES.get(answer_lang, answer_lang),
        sources=render_sources(sources),
        no_answer=NO_ANSWER,
    )


def split_sentences(text: str) -> list[str]:
    """The answer's sentences, each with the markers that follow it."""
    parts = [p.strip() for p in _SENTENCE_END.split(text.strip())]
    return [p for p in parts if p]


def _terms(text: str, lang: str) -> set[str]:
    return set(analyze(text, lang)) | set(crossling.text_tokens(text, lang))


def _best_sentence(claim: str, claim_lang: str, source: Source, doc_text: str) -> tuple[int, int]:
    """The sentence of the packed passage that best matches ``claim`` (shared words, or
    cross-lingual names, concepts, numbers and dates); the first when none match."""
    lang = source.hit.chunk.lang
    want = set(analyze(claim, lang)) | set(crossling.text_tokens(claim, claim_lang))
    spans = [
        (s, e) for s, e in source.hit.chunk.sentences if s >= source.start and e <= source.end
    ] or [(source.start, source.end)]
    scored = [
        (len(want & _terms(doc_text[s:e], lang)), -i, (s, e)) for i, (s, e) in enumerate(spans)
    ]
    return max(scored)[2]


def _strip_markers(sentence: str) -> str:
    """The sentence without its citation markers. Removed until none is left: taking "[1]" out
    of "[[1]2]" leaves "[2]", which would otherwise reach the answer as a marker of its own."""
    claim = sentence
    while True:
        stripped = _MARKER.sub("", claim)
        if stripped == claim:
            return claim.strip()
        claim = stripped


def check(
    reply: str,
    sources: list[Source],
    answer_lang: str,
    doc_text: Callable[[str], str],
) -> Written:
    """Parse, validate and renumber the model's reply."""
    stripped = reply.strip()
    if not stripped or stripped.strip(".").upper().startswith(NO_ANSWER):
        return Written("", (), True, 0, (), ())
    by_n = {s.n: s for s in sources}
    invented = 0
    number: dict[tuple[str, int, int], int] = {}
    citations: list[Citation] = []
    lines: list[str] = []
    unsupported: list[int] = []
    sentences: list[str] = []
    for sentence in split_sentences(stripped):
        cited = parse_markers(sentence)
        claim = _strip_markers(sentence)
        # Marker-like numbers parse_markers does not read (seven digits or more, other scripts'
        # digits) are invented citations too.
        invented += len(MARKER_LIKE.findall(sentence)) - len(cited)
        if not claim:
            continue
        valid = [by_n[n] for n in dict.fromkeys(cited) if n in by_n]
        invented += sum(1 for n in cited if n not in by_n)
        marks = []
        for source in valid:
            text = doc_text(source.hit.doc.doc_id)
            start, end = _best_sentence(claim, answer_lang, source, text)
            key = (source.hit.doc.doc_id, start, end)
            if key not in number:
                number[key] = len(citations) + 1
                hit = source.hit
                citations.append(
                    Citation(
                        number[key],
                        hit.doc.doc_id,
                        hit.doc.title,
                        hit.doc.path,
                        hit.chunk.lang,
                        start,
                        end,
                        text[start:end],
                        hit.chunk.chunk_id,
                        hit.chunk.start,
                        hit.chunk.end,
                    )
                )
            marks.append(f"[{number[key]}]")
        if not marks:
            unsupported.append(len(sentences))
        sentences.append(claim)
        lines.append(claim + (" " + "".join(dict.fromkeys(marks)) if marks else ""))
    return Written(
        "\n".join(lines), tuple(citations), False, invented, tuple(unsupported), tuple(sentences)
    )
