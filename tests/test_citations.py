"""rag.citations: parse_markers, number_citations and verify over fake hits (rag.types)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.chunking import split_sentences
from rag.citations import number_citations, parse_markers, verify
from rag.types import Chunk, DocInfo, Hit

FA_DOC = (
    "به گزارش خبرگزاری ایرنا، ولادیمیر پوتین و رجب طیب اردوغان روز دوشنبه در سوچی دیدار کردند. "
    "دو طرف درباره ایجاد منطقه حائل در ادلب به توافق رسیدند؟ "
    "سخنگوی کرملین گفت: «این توافق گامی مهم است.»\n"
    "رئيس جمهور روسيه تلفني با اردوغان گفت‌وگو كرد."
)
AR_DOC = (
    "قال الرئيس الروسي فلاديمير بوتين إن بلاده توصلت مع تركيا إلى اتفاق. "
    "وستقام منطقة منزوعة السلاح في محافظة إدلب السورية؛ وفق ما أعلن الكرملين."
)
EN_DOC = (
    "Russian President Vladimir Putin and Turkey's Recep Tayyip Erdoğan met in Sochi on Monday. "
    "They agreed to set up a demilitarized zone in Idlib, Mr. Putin said."
)
MIXED_DOC = "نشست NATO در بروکسل برگزار شد. قال Erdoğan إن «اتفاق سوتشي» صامد. The deal holds."
DOCS = {"fa-1": FA_DOC, "ar-1": AR_DOC, "en-1": EN_DOC, "mx-1": MIXED_DOC}
LANGS = {"fa-1": "fa", "ar-1": "ar", "en-1": "en", "mx-1": "fa"}


def make_hit(doc_id: str, text: str, start: int = 0, end: int | None = None) -> Hit:
    end = len(text) if end is None else end
    sentences = tuple((s + start, e + start) for s, e in split_sentences(text[start:end]))
    chunk = Chunk(
        chunk_id=f"{doc_id}::0",
        doc_id=doc_id,
        ord=0,
        start=start,
        end=end,
        text=text[start:end],
        lang=LANGS.get(doc_id, "fa"),
        sentences=sentences,
    )
    doc = DocInfo(
        doc_id=doc_id,
        title=f"title of {doc_id}",
        path=f"data/{doc_id}.txt",
        lang=chunk.lang,
        source="test",
        date="2018-09-17",
    )
    return Hit(chunk=chunk, doc=doc, score=1.0, bm25_rank=1, dense_rank=None)


# --- parse_markers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # ASCII, Persian and Arabic-Indic digits, inner spaces
        ("[1]", [1]),
        ("[۳]", [3]),
        ("[٣]", [3]),
        ("[ 12 ]", [12]),
        ("[۱۲]", [12]),
        ("[١٠]", [10]),
        ("[ ۲ ]", [2]),
        # glued to Arabic-script letters (no \b to rely on)
        ("پوتین در سوچی بود[2]", [2]),
        ("گفت[2] و افزود[۳].", [2, 3]),
        ("قال[٤]و[۱۲]", [4, 12]),
        ("اتفاق سوتشي[1][2]", [1, 2]),
        # English and mixed
        ("Putin met Erdoğan [1], then left [2].", [1, 2]),
        ("See [3], [4].", [3, 4]),
        ("Erdoğan گفت [1] و قال [٢] and said [3]", [1, 2, 3]),
        # not markers
        ("[a]", []),
        ("[الف]", []),
        ("[1a]", []),
        ("[]", []),
        ("[-1]", []),
        ("[1.5]", []),
        ("(1) and {2}", []),
        ("بدون ارجاع", []),
    ],
)
def test_parse_markers(text: str, expected: list[int]) -> None:
    assert parse_markers(text) == expected


# --- number_citations / verify ---------------------------------------------------------------


@pytest.mark.parametrize("doc_id", ["fa-1", "ar-1", "en-1", "mx-1"])
def test_number_citations_quotes_sentences_at_their_offsets(doc_id: str) -> None:
    text = DOCS[doc_id]
    hit = make_hit(doc_id, text)
    spans = [(hit, s, e) for s, e in hit.chunk.sentences]
    assert len(spans) >= 2
    citations, answer = number_citations(spans, DOCS.__getitem__)
    assert [c.n for c in citations] == list(range(1, len(spans) + 1))
    for citation, (_, start, end) in zip(citations, spans, strict=True):
        assert citation.quote == text[start:end]
        assert (citation.start, citation.end) == (start, end)
        assert verify(citation, text)
        assert citation.doc_id == doc_id
        assert citation.title == hit.doc.title
        assert citation.path == hit.doc.path
        assert citation.lang == hit.chunk.lang
        assert citation.chunk_id == hit.chunk.chunk_id
        assert (citation.passage_start, citation.passage_end) == (hit.chunk.start, hit.chunk.end)
        assert f"{citation.quote} [{citation.n}]" in answer
    assert parse_markers(answer) == list(range(1, len(spans) + 1))
    assert answer.splitlines()[0].endswith(" [1]")


def test_number_citations_over_several_documents() -> None:
    fa_hit = make_hit("fa-1", FA_DOC)
    ar_hit = make_hit("ar-1", AR_DOC)
    en_hit = make_hit("en-1", EN_DOC, start=0, end=EN_DOC.index(" They"))
    spans = [
        (fa_hit, *fa_hit.chunk.sentences[1]),
        (ar_hit, *ar_hit.chunk.sentences[0]),
        (en_hit, *en_hit.chunk.sentences[0]),
    ]
    citations, answer = number_citations(spans, DOCS.__getitem__)
    assert [c.doc_id for c in citations] == ["fa-1", "ar-1", "en-1"]
    assert citations[0].quote == "دو طرف درباره ایجاد منطقه حائل در ادلب به توافق رسیدند؟"
    assert citations[1].quote.startswith("قال الرئيس الروسي")
    assert citations[2].quote.endswith("on Monday.")
    assert all(verify(c, DOCS[c.doc_id]) for c in citations)
    assert parse_markers(answer) == [1, 2, 3]


def test_number_citations_of_nothing() -> None:
    assert number_citations([], DOCS.__getitem__) == ([], "")


@pytest.mark.parametrize("doc_id", ["fa-1", "ar-1", "en-1", "mx-1"])
def test_verify_rejects_a_changed_document(doc_id: str) -> None:
    text = DOCS[doc_id]
    hit = make_hit(doc_id, text)
    start, end = hit.chunk.sentences[0]
    (citation,), _ = number_citations([(hit, start, end)], DOCS.__getitem__)
    assert verify(citation, text)
    assert not verify(citation, "X" + text)  # offsets shifted by one
    # An invisible change inside the span (a ZWNJ) is a change: verify is exact, not normalized.
    assert not verify(citation, text[: start + 2] + "\u200c" + text[start + 2 :])
    assert not verify(citation, text[: end - 1] + "؟" + text[end:])


def test_quote_keeps_the_original_not_the_normalized_text() -> None:
    # Display text is never normalized: ي/ك, ZWNJ and harakat survive into the quote.
    text = "رئيس جمهور روسيه با اردوغان گفت‌وگو كرد. قالَ الرَّئِيسُ: نعم."
    hit = make_hit("fa-1", text)
    citations, _ = number_citations(
        [(hit, s, e) for s, e in hit.chunk.sentences], lambda _doc_id: text
    )
    assert citations[0].quote == "رئيس جمهور روسيه با اردوغان گفت‌وگو كرد."
    assert citations[1].quote == "قالَ الرَّئِيسُ: نعم."


# --- properties ------------------------------------------------------------------------------

# Document text: any characters except "[", so that a document cannot itself contain a marker
# (see test_quoted_brackets_are_not_read_as_citations for what happens when it does).
doc_text = st.text(
    st.one_of(
        st.characters(min_codepoint=0x0600, max_codepoint=0x06FF),
        st.characters(min_codepoint=0x06F0, max_codepoint=0x06F9),
        st.sampled_from(list(" \n\u200c.؟،«»]0123")),
        st.characters(exclude_characters="["),
    ),
    min_size=1,
    max_size=200,
)


@st.composite
def text_and_spans(draw: st.DrawFn) -> tuple[str, list[tuple[int, int]]]:
    text = draw(doc_text)
    n = draw(st.integers(1, 6))
    spans = []
    for _ in range(n):
        start = draw(st.integers(0, len(text) - 1))
        end = draw(st.integers(start + 1, len(text)))
        spans.append((start, end))
    return text, spans


@settings(max_examples=200, deadline=None)
@given(text_and_spans(), st.sampled_from(["fa", "ar", "en"]))
def test_citations_quote_the_document_at_their_offsets(
    case: tuple[str, list[tuple[int, int]]], lang: str
) -> None:
    text, spans = case
    doc_id = f"{lang}-doc"
    hit = make_hit(doc_id, text)
    citations, answer = number_citations([(hit, s, e) for s, e in spans], lambda _doc_id: text)
    assert len(citations) == len(spans)
    for n, (citation, (start, end)) in enumerate(zip(citations, spans, strict=True), start=1):
        assert citation.n == n
        assert citation.quote == text[start:end]
        assert verify(citation, text)
    assert parse_markers(answer) == list(range(1, len(spans) + 1))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 999),
            st.sampled_from(["ascii", "persian", "arabic"]),
            st.sampled_from(["", " "]),
            st.sampled_from(["گفت", "قال", "said", "", " ", "\n", "،"]),
        ),
        max_size=8,
    )
)
def test_parse_markers_reads_every_digit_set(
    items: list[tuple[int, str, str, str]],
) -> None:
    digits = {"ascii": "0123456789", "persian": "۰۱۲۳۴۵۶۷۸۹", "arabic": "٠١٢٣٤٥٦٧٨٩"}
    parts = []
    for number, digit_set, pad, word in items:
        rendered = "".join(digits[digit_set][int(d)] for d in str(number))
        parts.append(f"{word}[{pad}{rendered}{pad}]")
    assert parse_markers("".join(parts)) == [number for number, *_ in items]


@pytest.mark.parametrize(
    "quote",
    [
        "پوتین در سوچی با اردوغان دیدار کرد.[3]",
        "وقال بوتين إن الاتفاق صامد[٢].",
        "Putin met Erdoğan in Sochi.[12]",
    ],
)
def test_quoted_brackets_are_not_read_as_citations(quote: str) -> None:
    hit = make_hit("doc", quote)
    _, answer = number_citations([(hit, 0, len(quote))], lambda _doc_id: quote)
    assert parse_markers(answer) == [1]
