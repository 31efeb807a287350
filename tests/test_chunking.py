"""rag.chunking: split_sentences, chunk_spans (invariants checked with hypothesis) and the
SentenceChunker llama-index node parser."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from llama_index.core import Document
from llama_index.core.schema import TextNode

from rag import tokens
from rag.chunking import ChunkSpan, SentenceChunker, chunk_spans, split_sentences


def sentences_of(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


# --- split_sentences -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # fa: . ! ؟ and a final sentence with no terminal
        (
            "پوتین به سوچی رفت. اردوغان هم آمد! نتیجه چه شد؟ هنوز روشن نیست",
            ["پوتین به سوچی رفت.", "اردوغان هم آمد!", "نتیجه چه شد؟", "هنوز روشن نیست"],
        ),
        # ar: ؟ ؛ ۔
        (
            "هل انتهى الاتفاق؟ قال المتحدث: لا؛ ما زال قائماً۔ انتهى",
            ["هل انتهى الاتفاق؟", "قال المتحدث: لا؛", "ما زال قائماً۔", "انتهى"],
        ),
        # en: . ! ? and an ellipsis
        (
            "The talks ended. Was there a deal? Yes! Details follow…",
            ["The talks ended.", "Was there a deal?", "Yes!", "Details follow…"],
        ),
        # line breaks are boundaries, with or without a terminal
        ("سطر اول\nسطر دوم\r\nسطر سوم", ["سطر اول", "سطر دوم", "سطر سوم"]),
        ("عنوان الخبر\n\nنص الخبر.", ["عنوان الخبر", "نص الخبر."]),
        ("Headline\u2029Body text.", ["Headline", "Body text."]),
        # mixed script
        (
            "Putin met Erdoğan. پوتین با اردوغان دیدار کرد؟ التقى بوتين أردوغان؛ The end",
            [
                "Putin met Erdoğan.",
                "پوتین با اردوغان دیدار کرد؟",
                "التقى بوتين أردوغان؛",
                "The end",
            ],
        ),
    ],
)
def test_sentence_boundaries(text: str, expected: list[str]) -> None:
    assert sentences_of(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "او گفت: «توافق سوچی پابرجاست.» سپس جلسه را ترک کرد.",
            ["او گفت: «توافق سوچی پابرجاست.»", "سپس جلسه را ترک کرد."],
        ),
        (
            "قال «انتهى الأمر؟» ثم غادر القاعة.",
            ["قال «انتهى الأمر؟»", "ثم غادر القاعة."],
        ),
        (
            "He said “the deal holds.” Then he left.",
            ["He said “the deal holds.”", "Then he left."],
        ),
        (
            "Lavrov called it «a success!» Erdoğan agreed.",
            ["Lavrov called it «a success!»", "Erdoğan agreed."],
        ),
        ("(پایان خبر.) منبع: ایرنا", ["(پایان خبر.)", "منبع: ایرنا"]),
    ],
)
def test_closing_quotes_stay_with_their_sentence(text: str, expected: list[str]) -> None:
    assert sentences_of(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Mr. Putin met U.S. forces. Growth was 3.5 percent.",
            ["Mr. Putin met U.S. forces.", "Growth was 3.5 percent."],
        ),
        (
            "Dr. Smith and J. Smith arrived at 10 a.m. on Jan. 5. They left.",
            ["Dr. Smith and J. Smith arrived at 10 a.m. on Jan. 5.", "They left."],
        ),
        ("U.S. forces left. The U.N. said so.", ["U.S. forces left.", "The U.N. said so."]),
        ("رشد اقتصادی ۳.۵ درصد بود. پایان", ["رشد اقتصادی ۳.۵ درصد بود.", "پایان"]),
        ("ارتفعت الأسعار 3.5 بالمئة. انتهى", ["ارتفعت الأسعار 3.5 بالمئة.", "انتهى"]),
        (
            "گفت‌وگوی Mr. Putin با Erdoğan در سوچی. پایان",
            ["گفت‌وگوی Mr. Putin با Erdoğan در سوچی.", "پایان"],
        ),
    ],
)
def test_abbreviations_and_decimals_do_not_split(text: str, expected: list[str]) -> None:
    assert sentences_of(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\n  ",
        "  فاصله.   ",
        "\n\nخبر فوری\n\n",
        "  قال المتحدث.  ثم غادر.  ",
        "  Breaking news.\t\n  More later.  ",
        "...",
        "Putin.\u00a0\u00a0پوتین.",
    ],
)
def test_spans_are_trimmed_non_empty_and_ordered(text: str) -> None:
    spans = split_sentences(text)
    prev_end = 0
    for start, end in spans:
        piece = text[start:end]
        assert piece
        assert piece == piece.strip()
        assert prev_end <= start < end
        prev_end = end


# --- chunk_spans invariants ------------------------------------------------------------------
# One named invariant each, in the style of chromadb's test/property/invariants.py.


def chunk_text(text: str, chunk: ChunkSpan) -> str:
    return text[chunk.start : chunk.end]


def sentence_tokens(text: str, chunk: ChunkSpan) -> int:
    return sum(tokens.count([text[s:e] for s, e in chunk.sentences]))


def invariant_spans_trimmed_and_non_empty(text: str, chunks: list[ChunkSpan]) -> None:
    """(a) start < end, and the chunk text is non-empty with no outer whitespace."""
    for chunk in chunks:
        assert 0 <= chunk.start < chunk.end <= len(text)
        piece = chunk_text(text, chunk)
        assert piece
        assert piece == piece.strip()


def invariant_sentences_inside_ordered_disjoint(text: str, chunks: list[ChunkSpan]) -> None:
    """(b) sentences lie inside the chunk, in order, disjoint; the chunk is their hull."""
    for chunk in chunks:
        assert chunk.sentences
        assert chunk.start == chunk.sentences[0][0]
        assert chunk.end == chunk.sentences[-1][1]
        prev_end = chunk.start
        for start, end in chunk.sentences:
            assert prev_end <= start < end <= chunk.end
            assert text[start:end] == text[start:end].strip()
            prev_end = end


def invariant_ordered_and_covering(text: str, chunks: list[ChunkSpan]) -> None:
    """(c) chunks are numbered and ordered; every non-whitespace character is in a chunk."""
    assert [c.ord for c in chunks] == list(range(len(chunks)))
    for prev, nxt in pairwise(chunks):
        assert prev.start < nxt.start
        assert prev.end <= nxt.end
    covered = bytearray(len(text))
    for chunk in chunks:
        covered[chunk.start : chunk.end] = b"\x01" * (chunk.end - chunk.start)
    missing = [i for i, ch in enumerate(text) if not ch.isspace() and not covered[i]]
    assert not missing, missing[:5]
    if not text.strip():
        assert chunks == []


def invariant_sentence_token_budget(text: str, chunks: list[ChunkSpan], max_tokens: int) -> None:
    """(d, as the chunker counts) the chunk's sentences sum to at most max_tokens."""
    for chunk in chunks:
        assert sentence_tokens(text, chunk) <= max_tokens


def invariant_chunk_token_budget(text: str, chunks: list[ChunkSpan], max_tokens: int) -> None:
    """(d) the chunk text itself, as rag.tokens.count sees it, is at most max_tokens."""
    counts = tokens.count([chunk_text(text, c) for c in chunks])
    assert all(n <= max_tokens for n in counts), (max_tokens, counts)


def invariant_bounded_overlap(text: str, chunks: list[ChunkSpan], overlap_tokens: int) -> None:
    """(e) consecutive chunks share only whole trailing sentences, at most overlap_tokens."""
    for prev, nxt in pairwise(chunks):
        assert nxt.start > prev.start
        shared = [s for s in nxt.sentences if s[0] < prev.end]
        if shared:
            assert tuple(shared) == prev.sentences[-len(shared) :]
        shared_tokens = sum(tokens.count([text[s:e] for s, e in shared])) if shared else 0
        assert shared_tokens <= overlap_tokens


def invariant_each_chunk_adds_text(chunks: list[ChunkSpan]) -> None:
    """No chunk is made only of the previous chunk's overlap: each ends further on."""
    for prev, nxt in pairwise(chunks):
        assert nxt.end > prev.end


FA = [
    "پوتین و اردوغان روز دوشنبه در سوچی درباره آینده ادلب گفت‌وگو کردند",
    "به گزارش ایرنا، قیمت نفت خام امروز ۳.۵ درصد کاهش یافت",
    "آیا توافق سوچی هنوز پابرجاست",
    "وزیر امور خارجه ایران گفت: «تهران از این توافق حمایت می‌کند»",
    "رئيس جمهور روسيه تلفني با اردوغان گفتوگو كرد",
]
AR = [
    "قال الرئيس الروسي فلاديمير بوتين إن الاتفاق ما زال قائماً",
    "هل انتهت الهدنة في محافظة إدلب",
    "أعلنت وزارة الخارجية التركية عن اجتماع جديد الأسبوع المقبل",
    "مُحَمَّدٌ رَسُولُ اللَّهِ",
]
EN = [
    "Mr. Putin met Erdoğan in Sochi on Monday",
    "Oil prices rose 3.5 percent after the U.S. forces left the base",
    "Did the deal hold",
    "Russian President Vladimir Putin said Moscow and Ankara had agreed to set up a "
    "demilitarized zone in Syria's Idlib province",
]
MIXED = [
    "نشست NATO در بروکسل با حضور Mevlüt Çavuşoğlu برگزار شد",
    "قال Erdoğan إن «اتفاق سوتشي» صامد",
    "The word «آتش‌بس» means ceasefire",
]
SEPARATORS = [". ", "؟ ", "\n", "؛ ", "! ", "? ", "۔ ", " ", "\n\n", ".» ", "؟» ", "« ", " »"]
SEPARATORS += ["    ", "\r\n", "\u2029", "... ", "…\n", "\t"]

piece = st.one_of(
    st.sampled_from(FA + AR + EN + MIXED),
    st.sampled_from(FA + AR + EN + MIXED),
    st.text(max_size=30),
)
documents = st.lists(st.tuples(piece, st.sampled_from(SEPARATORS)), max_size=24).map(
    lambda parts: "".join(p + sep for p, sep in parts)
)
# Realistic text only (letters, digits, punctuation): no rare symbols whose token density
# differs wildly within one sentence, which the long-sentence cutter cannot handle (see below).
plain_char = st.one_of(
    st.characters(min_codepoint=0x0621, max_codepoint=0x064A),
    st.characters(min_codepoint=0x0061, max_codepoint=0x007A),
    st.sampled_from(list("پچژگکی ۱۲۳٠١ .،؟\n\u200c")),
)
plain_documents = st.lists(
    st.tuples(
        st.one_of(st.sampled_from(FA + AR + EN + MIXED), st.text(plain_char, max_size=40)),
        st.sampled_from(SEPARATORS),
    ),
    max_size=24,
).map(lambda parts: "".join(p + sep for p, sep in parts))
budgets = st.integers(16, 120).flatmap(
    lambda m: st.tuples(st.just(m), st.integers(0, min(m - 1, 60)))
)
HYPOTHESIS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@HYPOTHESIS
@given(documents, budgets)
def test_chunk_invariants(text: str, budget: tuple[int, int]) -> None:
    max_tokens, overlap_tokens = budget
    chunks = chunk_spans(text, max_tokens, overlap_tokens)
    invariant_spans_trimmed_and_non_empty(text, chunks)
    invariant_sentences_inside_ordered_disjoint(text, chunks)
    invariant_ordered_and_covering(text, chunks)
    invariant_bounded_overlap(text, chunks, overlap_tokens)


@HYPOTHESIS
@given(plain_documents, budgets)
def test_chunk_sentence_token_budget(text: str, budget: tuple[int, int]) -> None:
    max_tokens, overlap_tokens = budget
    chunks = chunk_spans(text, max_tokens, overlap_tokens)
    invariant_sentence_token_budget(text, chunks, max_tokens)


@HYPOTHESIS
@given(plain_documents, budgets)
@example("آیا توافق سوچی هنوز پابرجاست. 0. " * 3, (16, 0))
@example("خبر فوری\n\n" * 100, (200, 40))
def test_chunk_token_budget(text: str, budget: tuple[int, int]) -> None:
    max_tokens, overlap_tokens = budget
    invariant_chunk_token_budget(text, chunk_spans(text, max_tokens, overlap_tokens), max_tokens)


@pytest.mark.parametrize(
    ("text", "max_tokens", "overlap_tokens"),
    [
        ("خبر فوری\n\n" * 100, 200, 40),
        ("- ایران\n- روسیه\n- ترکیه\n" * 40, 100, 20),
        ("عاجل:\n\nبوتين يلتقي أردوغان\n\n" * 40, 100, 20),
        ("BREAKING:\n\nPutin meets Erdogan\n\n" * 40, 100, 20),
    ],
)
def test_line_lists_respect_max_tokens(text: str, max_tokens: int, overlap_tokens: int) -> None:
    # Headline lists: the line breaks between sentences cost tokens too (an earlier version
    # made 'خبر فوری\n\n'*100 one chunk of 299 tokens at max 200).
    chunks = chunk_spans(text, max_tokens, overlap_tokens)
    invariant_chunk_token_budget(text, chunks, max_tokens)


@pytest.mark.parametrize(
    ("text", "max_tokens"),
    [
        # A Telegram-style line: an emoji run, then the headline, as one long sentence.
        ("🔴" * 20 + " " + "breaking news " * 5, 32),
        ("🔴" * 40 + " " + "عاجل " * 60, 64),
        ("🇮🇷" * 10 + " " + "خبر فوری " * 60, 16),
    ],
)
def test_dense_long_sentence_pieces_fit(text: str, max_tokens: int) -> None:
    chunks = chunk_spans(text, max_tokens, 0)
    invariant_sentence_token_budget(text, chunks, max_tokens)


def test_long_sentences_are_cut_to_fit() -> None:
    sentence = " ".join(["پوتین و اردوغان در سوچی درباره ادلب گفت‌وگو کردند"] * 30) + "."
    text = sentence + " " + "Short one."
    chunks = chunk_spans(text, 40, 10)
    assert len(chunks) > 1
    invariant_spans_trimmed_and_non_empty(text, chunks)
    invariant_sentences_inside_ordered_disjoint(text, chunks)
    invariant_ordered_and_covering(text, chunks)
    invariant_sentence_token_budget(text, chunks, 40)


# Three sentences: long (48 tokens), short (9), long (57); at max 60, overlap 15 the second
# chunk would repeat only the short sentence, which the first chunk already holds whole.
FA_LONG_1 = (
    "به گزارش خبرگزاری ایرنا، ولادیمیر پوتین رئیس‌جمهور روسیه و رجب طیب اردوغان رئیس‌جمهور "
    "ترکیه روز دوشنبه در شهر ساحلی سوچی دیدار کردند."
)
FA_SHORT = "این دیدار چهار ساعت طول کشید."
FA_LONG_2 = (
    "دو طرف توافق کردند که یک منطقه حائل به عمق پانزده تا بیست کیلومتر در استان ادلب در شمال "
    "غرب سوریه ایجاد شود و گروه‌های مسلح مخالف دولت سوریه تا دهم اکتبر سلاح سنگین خود را از آن "
    "خارج کنند."
)


def test_no_chunk_is_only_overlap() -> None:
    text = " ".join([FA_LONG_1, FA_SHORT, FA_LONG_2])
    assert tokens.count([FA_LONG_1, FA_SHORT, FA_LONG_2]) == [48, 9, 57]
    chunks = chunk_spans(text, 60, 15)
    invariant_each_chunk_adds_text(chunks)


@pytest.mark.parametrize(
    ("max_tokens", "overlap_tokens"), [(7, 0), (0, 0), (50, 50), (50, 60), (50, -1)]
)
def test_bad_budgets_are_rejected(max_tokens: int, overlap_tokens: int) -> None:
    with pytest.raises(ValueError):
        chunk_spans("پوتین به سوچی رفت.", max_tokens, overlap_tokens)


@pytest.mark.parametrize(
    "text",
    [
        "پوتین به سوچی رفت. اردوغان هم آمد.",
        "ذهب بوتين إلى سوتشي. وجاء أردوغان أيضاً.",
        "Putin went to Sochi. Erdoğan came too.",
        "Putin went to Sochi. اردوغان هم آمد.",
    ],
)
def test_short_text_is_one_chunk(text: str) -> None:
    chunks = chunk_spans(text)
    assert len(chunks) == 1
    assert (chunks[0].start, chunks[0].end) == (0, len(text))
    assert len(chunks[0].sentences) == 2


# --- SentenceChunker (llama-index) -----------------------------------------------------------


@pytest.mark.parametrize(
    "paragraph",
    [
        "پوتین و اردوغان در سوچی دیدار کردند. آنها درباره ادلب گفت‌وگو کردند؟ نتیجه روشن نیست.",
        "التقى بوتين وأردوغان في سوتشي. وناقشا مستقبل إدلب؟ النتيجة غير واضحة.",
        "Putin and Erdoğan met in Sochi. They discussed Idlib? The outcome is unclear.",
        "Putin and Erdoğan met in Sochi. پوتین و اردوغان دیدار کردند؛ النتيجة غير واضحة.",
    ],
)
def test_sentence_chunker_offsets_point_at_the_right_copy(paragraph: str) -> None:
    doc = Document(text=paragraph + "\n\n" + paragraph, metadata={"doc_id": "doc-1"})
    parser = SentenceChunker(max_tokens=20, overlap_tokens=0)
    nodes = parser.get_nodes_from_documents([doc])
    assert len(nodes) >= 2
    assert all(isinstance(n, TextNode) for n in nodes)
    text_nodes = [n for n in nodes if isinstance(n, TextNode)]
    starts = []
    for node in text_nodes:
        start, end = node.start_char_idx, node.end_char_idx
        assert start is not None and end is not None
        assert doc.text[start:end] == node.get_content()
        starts.append(start)
    assert starts == sorted(starts)
    assert len(set(starts)) == len(starts)
    assert text_nodes[-1].end_char_idx == len(doc.text)
    # Nodes of the second copy repeat text found earlier; str.find would have returned the
    # first copy's offsets for them.
    second_copy = len(paragraph) + 2
    repeated = [
        n
        for n, start in zip(nodes, starts, strict=True)
        if start >= second_copy and doc.text.find(n.get_content()) < start
    ]
    assert repeated
    assert [n.node_id for n in nodes] == [f"doc-1::{i}" for i in range(len(nodes))]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("فصل جدید را آغاز کنیم.وی خاطرنشان کرد", ["فصل جدید را آغاز کنیم.", "وی خاطرنشان کرد"]),
        ("انتهت المحادثات.وقال الكرملين", ["انتهت المحادثات.", "وقال الكرملين"]),
        ("آیا توافق شد؟بله", ["آیا توافق شد؟", "بله"]),
        ("The deal held.Then it broke", ["The deal held.Then it broke"]),
        ("نرخ تورم 3.5 درصد شد.", ["نرخ تورم 3.5 درصد شد."]),
    ],
)
def test_sentence_ends_before_arabic_script_letter_without_space(
    text: str, expected: list[str]
) -> None:
    assert [text[s:e] for s, e in split_sentences(text)] == expected
