"""Property tests over hostile text: normalization, chunking, citation parsing, the JSONL reader.

The strategies mix Persian, Arabic and English words, the three digit sets, harakat, ZWNJ,
tatweel, bidi controls, NUL and other control characters, emoji and long lines. Properties
that already exist elsewhere (``test_normalize``: idempotence over a narrower alphabet;
``test_chunking``: offsets and coverage over sampled sentences; ``test_citations``: marker
parsing over well-formed markers) are repeated here on this wider input, and the missing ones
are added: search words map back to spans of the original, skipped furniture spans, citation
checking of arbitrary model replies, and the JSONL reader.

Example counts come from a hypothesis profile: ``manba`` (modest, part of ``make test``) or,
with ``HYPOTHESIS_PROFILE=fuzz``, ``fuzz`` (``make fuzz``: many more).
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from rag import generate
from rag.analysis import _SCRIPT_RUN, _WORD, _ZWNJ_WORD, _analyze_token, analyze, words
from rag.chunking import SentenceChunker, chunk_spans, split_sentences
from rag.citations import MARKER_LIKE, number_citations, parse_markers, verify
from rag.errors import IngestError
from rag.ingest import _read_jsonl
from rag.normalize import clean, clean_spans, fold, normalize
from rag.types import Chunk, DocInfo, Hit, SourceDoc

settings.register_profile(
    "manba",
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "fuzz",
    max_examples=4000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE_NAME = os.environ.get("HYPOTHESIS_PROFILE", "manba")
if PROFILE_NAME not in ("manba", "fuzz"):
    PROFILE_NAME = "manba"
PROFILE = settings.get_profile(PROFILE_NAME)


def budget(share: float) -> settings:
    """The profile's settings with ``share`` of its example count (costly properties)."""
    assert PROFILE.max_examples is not None
    return settings(PROFILE, max_examples=max(10, int(PROFILE.max_examples * share)))


# --- strategies ------------------------------------------------------------------------------

FA_WORDS = [
    "پوتین",
    "اردوغان",
    "گفت‌وگو",
    "می‌گیرد",
    "کتاب‌ها",
    "آتش‌بس",
    "كشورهاي",
    "رئيس‌جمهور",
    "تهـــران",
    "مُذاکِرات",
    "۱۳۹۷",
    "۳٫۵",
    "همۀ",
    "سوچی",
]
AR_WORDS = [
    "أردوغان",
    "إدلب",
    "مُحَمَّدٌ",
    "الرَّئِيسُ",
    "وزارة",
    "سوتشي",
    "مسؤول",
    "٢٠١٨",
    "١٢٬٥٠٠",
    "ﷲ",
    "ﻻ",
    "بـــوتين",
    "ٱلله",
]
EN_WORDS = ["Putin", "Erdoğan", "Sochi", "U.S.", "Mr.", "2018", "3.5", "ﬁnance", "ΑΣ", "İstanbul"]
SPECIALS = [
    "\u200c",  # ZWNJ
    "\u200d",  # ZWJ
    "\u200b",
    "\u0640",  # tatweel
    "\u064e",
    "\u0651",
    "\u0670",
    "\u200e",
    "\u200f",
    "\u202a",
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",
    "\u061c",
    "\ufeff",
    "\u00ad",
    "\x00",
    "\x01",
    "\x1b",
    "\x7f",
    "\x85",
    "\x9b",
    "\u2028",
    "\u2029",
    "\u00a0",
    "\t",
    "\r",
    "\n",
    "\x0b",
    "\x0c",
    "\x1c",
    "😀",
    "🇮🇷",
    "👍🏽",
    "👨\u200d👩\u200d👧",
    "[",
    "]",
    "[1]",
    "[۲]",
    "[٣]",
    "[४]",  # Devanagari digit: Python's \d reads it, and so does the app's marker pattern
    "[１２]",
    "[ 1\n]",
    "</source>",
    "«",
    "»",
    "؟",
    "،",
    "؛",
    ".",
    "…",
    "!",
    "?",
    '"',
]
DIGITS = "0123456789۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩"
SEPARATORS = [" ", "  ", "\n", ". ", "؟ ", "، ", "؛ ", "\u200c", "", "\r\n", "\u2029", "\t", "\n\n"]

hostile_char = st.one_of(
    st.characters(min_codepoint=0x0600, max_codepoint=0x06FF),
    st.characters(min_codepoint=0xFB50, max_codepoint=0xFEFC),
    st.sampled_from(list(DIGITS)),
    st.characters(min_codepoint=0x41, max_codepoint=0x7A),
    st.sampled_from([s for s in SPECIALS if len(s) == 1]),
    st.characters(codec="utf-8"),
)
# A piece of text: a real word, or a run of hostile characters and multi-character pieces
# (emoji sequences, fake markers, delimiters).
atom = st.one_of(
    st.sampled_from(FA_WORDS + AR_WORDS + EN_WORDS),
    st.sampled_from(FA_WORDS + AR_WORDS + EN_WORDS),
    st.lists(st.one_of(hostile_char, st.sampled_from(SPECIALS)), min_size=1, max_size=12).map(
        "".join
    ),
)
short_text = st.lists(st.tuples(atom, st.sampled_from(SEPARATORS)), max_size=16).map(
    lambda parts: "".join(a + s for a, s in parts)
)
# A long line: one piece repeated without a line break (a minified page, a Telegram dump).
long_line = st.tuples(atom, st.sampled_from([" ", "", "،", "\u200c"]), st.integers(50, 400)).map(
    lambda t: (t[0] + t[1]) * t[2]
)
hostile_text = st.one_of(short_text, short_text, short_text, long_line)
LANG = st.sampled_from(["fa", "ar", "en"])


# --- normalization ---------------------------------------------------------------------------


@budget(1.0)
@given(hostile_text)
@example("مُحَمَّدٌ\u200cرَسُولُ ﷲ ۱۳۹۷ Erdoğan\x00\u202e")
def test_normalize_and_clean_are_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
    cleaned = clean(text)
    assert clean(cleaned) == cleaned
    assert fold(cleaned) == once


def _word_positions(cleaned: str) -> list[tuple[int, int]]:
    """Where each of ``analysis.words`` lies in the cleaned text (same regexes)."""
    out = []
    for m in _WORD.finditer(cleaned):
        for r in _SCRIPT_RUN.finditer(m.group()):
            out.append((m.start() + r.start(), m.start() + r.end()))
    return out


@budget(1.0)
@given(hostile_text)
@example("گفت‌وگو ΑΣ ﷺ a¨b ۱۰مين F-35‌ها")
@example("مُحَمَّدٌ رَسُولُ اللَّهِ")
def test_every_search_word_maps_back_to_a_span_of_the_original(text: str) -> None:
    cleaned, spans = clean_spans(text)
    assert cleaned == clean(text)
    assert len(spans) == len(cleaned)
    assert all(0 <= a <= b <= len(text) for a, b in spans)
    assert [a for a, _ in spans] == sorted(a for a, _ in spans)
    positions = _word_positions(cleaned)
    assert [cleaned[i:j] for i, j in positions] == words(text)
    for i, j in positions:
        a, b = spans[i][0], spans[j - 1][1]
        assert a < b
        # The span's own search words hold the word: highlighting text[a:b] shows it.
        assert cleaned[i:j] in words(text[a:b]), (cleaned[i:j], text[a:b])


@budget(0.5)
@given(hostile_text, LANG)
@example("می گیرد کتاب ها گفت وگو رباط‌کریم", "fa")
@example("وزارة الخارجية في سوتشي", "ar")
@example("Putin پوتین في سوتشي", "en")
@example("پوتین\u200c0ؠ0 ", "fa")
@example("0ؠ0ؠ\u200cپوتین ", "fa")
def test_every_search_token_comes_from_a_span_of_the_original(text: str, lang: str) -> None:
    """Each analyzed token (stemmed, joined) is a token of one to three consecutive words of
    the original, or of one ZWNJ-separated part of a word."""
    cleaned, spans = clean_spans(text)
    word_spans = [(spans[i][0], spans[j - 1][1]) for i, j in _word_positions(cleaned)]
    candidates: set[tuple[int, int]] = set()
    for k in range(len(word_spans)):
        for n in (1, 2, 3):
            if k + n <= len(word_spans):
                candidates.add((word_spans[k][0], word_spans[k + n - 1][1]))
    found: set[str] = set()
    for m in _ZWNJ_WORD.finditer(text):
        # The parts of a ZWNJ compound are search tokens too, each analyzed whole (not cut
        # where the script changes, as words are: "پوتین‌0ؠ0" gives the token 0ؠ0).
        pos = m.start()
        for part in m.group().split("\u200c"):
            candidates.add((pos, pos + len(part)))
            for other in ("fa", "ar", "en"):
                found.update(_analyze_token(normalize(part), other, False))
            pos += len(part) + 1
    for a, b in candidates:
        for context in ("", " پ"):  # a Persian letter elsewhere folds Arabic-script words
            for other in ("fa", "ar", "en"):
                found.update(analyze(text[a:b] + context, other))
    missing = set(analyze(text, lang)) - found
    assert not missing, missing


# --- chunking --------------------------------------------------------------------------------

chunk_budgets = st.integers(16, 120).flatmap(
    lambda m: st.tuples(st.just(m), st.integers(0, min(m - 1, 60)))
)


def _check_chunks(text: str, chunks: list, skip: list[tuple[int, int]]) -> None:
    covered = [False] * len(text)
    for ord_, c in enumerate(chunks):
        assert c.ord == ord_
        assert 0 <= c.start < c.end <= len(text)
        assert c.sentences and c.sentences[0][0] == c.start and c.sentences[-1][1] == c.end
        for (s, e), nxt in zip(c.sentences, [*c.sentences[1:], None], strict=True):
            assert c.start <= s < e <= c.end
            assert not text[s].isspace() and not text[e - 1].isspace()
            if nxt is not None:
                assert e <= nxt[0]
            for a, b in skip:  # no sentence straddles or enters furniture
                assert e <= a or s >= b
            for i in range(s, e):
                covered[i] = True
    in_skip = [False] * len(text)
    for a, b in skip:
        for i in range(a, b):
            in_skip[i] = True
    missing = [
        i for i, ch in enumerate(text) if not ch.isspace() and not in_skip[i] and not covered[i]
    ]
    assert not missing, [(i, text[i]) for i in missing[:5]]
    for prev, nxt in itertools.pairwise(chunks):
        assert nxt.start > prev.start and nxt.end > prev.end


@budget(0.3)
@given(hostile_text, chunk_budgets)
@example("🔴" * 300 + " " + "عاجل " * 50, (16, 0))
@example("x" * 3000, (16, 4))
def test_chunk_offsets_exact_and_cover_the_text(text: str, budget_: tuple[int, int]) -> None:
    max_tokens, overlap = budget_
    chunks = chunk_spans(text, max_tokens, overlap)
    _check_chunks(text, chunks, [])
    if not text.strip():
        assert chunks == []
    for s, e in split_sentences(text):
        assert text[s:e] == text[s:e].strip() and text[s:e]


@st.composite
def text_with_skips(draw: st.DrawFn) -> tuple[str, list[tuple[int, int]]]:
    text = draw(hostile_text)
    n = draw(st.integers(0, 4)) if text else 0
    skips = []
    for _ in range(n):
        a = draw(st.integers(0, len(text) - 1))
        b = draw(st.integers(a + 1, min(len(text), a + 80)))
        skips.append((a, b))
    return text, skips


@budget(0.3)
@given(text_with_skips(), chunk_budgets)
def test_chunks_skip_furniture_and_cover_the_rest(
    case: tuple[str, list[tuple[int, int]]], budget_: tuple[int, int]
) -> None:
    text, skip = case
    max_tokens, overlap = budget_
    _check_chunks(text, chunk_spans(text, max_tokens, overlap, skip=skip), skip)


@budget(0.2)
@given(hostile_text)
def test_sentence_chunker_nodes_are_exact_slices(text: str) -> None:
    from llama_index.core import Document

    doc = Document(text=text, metadata={"doc_id": "d", "content_hash": "abc"})
    for node in SentenceChunker(max_tokens=24, overlap_tokens=4).get_nodes_from_documents([doc]):
        start, end = node.start_char_idx, node.end_char_idx  # type: ignore[attr-defined]
        assert text[start:end] == node.get_content()


# --- citations -------------------------------------------------------------------------------


def make_hit(doc_id: str, text: str, lang: str) -> Hit:
    sentences = tuple(split_sentences(text)) or ((0, len(text)),)
    chunk = Chunk(f"{doc_id}::0", doc_id, 0, 0, len(text), text, lang, sentences)
    doc = DocInfo(doc_id, f"title {doc_id}", f"/data/{doc_id}", lang, "test", "")
    return Hit(chunk=chunk, doc=doc, score=1.0, bm25_rank=1)


marker = st.tuples(
    st.one_of(st.integers(0, 12), st.integers(0, 10**30)),
    st.sampled_from(["ascii", "fa", "ar"]),
    st.sampled_from(["", " ", "\u200c", "\n"]),
).map(
    lambda t: (
        "["
        + t[2]
        + "".join(
            {"ascii": "0123456789", "fa": "۰۱۲۳۴۵۶۷۸۹", "ar": "٠١٢٣٤٥٦٧٨٩"}[t[1]][int(d)]
            for d in str(t[0])
        )
        + t[2]
        + "]"
    )
)
reply_text = st.lists(
    st.one_of(atom, marker, st.sampled_from(SEPARATORS + ["[", "]", "[[", "]]", "NO_ANSWER"])),
    max_size=30,
).map("".join)


@budget(1.0)
@given(st.one_of(hostile_text, reply_text))
@example("[" + "9" * 5000 + "]")
@example("[" + "۹" * 4400 + "] و [١]")
def test_parse_markers_never_raises(text: str) -> None:
    found = parse_markers(text)
    assert all(isinstance(n, int) and n >= 0 for n in found)


@budget(0.5)
@given(st.lists(st.tuples(hostile_text, LANG), min_size=1, max_size=3), st.data())
def test_markers_inside_document_text_never_become_citations(
    docs: list[tuple[str, str]], data: st.DataObject
) -> None:
    texts = {f"d{i}": text for i, (text, _) in enumerate(docs) if text}
    if not texts:
        return
    spans = []
    for i, (text, lang) in enumerate(docs):
        if not text:
            continue
        hit = make_hit(f"d{i}", text, lang)
        a = data.draw(st.integers(0, len(text) - 1))
        b = data.draw(st.integers(a + 1, len(text)))
        spans.append((hit, a, b))
    citations, answer = number_citations(spans, texts.__getitem__)
    assert parse_markers(answer) == list(range(1, len(spans) + 1))
    # Nor does anything a reader (or the app's pattern) could take for a marker.
    assert [int(n) for n in MARKER_LIKE.findall(answer)] == list(range(1, len(spans) + 1))
    assert all(verify(c, texts[c.doc_id]) for c in citations)


@budget(0.5)
@given(st.lists(st.tuples(hostile_text, LANG), min_size=1, max_size=3), reply_text, LANG)
@example([("پوتین به سوچی رفت. اردوغان هم آمد.", "fa")], "پوتین رفت [[1]2].", "fa")
@example([("بوتين في سوتشي.", "ar")], "ذهب بوتين [" + "٩" * 4400 + "] [١]", "ar")
def test_checked_reply_never_raises_and_cites_only_its_sources(
    docs: list[tuple[str, str]], reply: str, answer_lang: str
) -> None:
    texts = {f"d{i}": text for i, (text, _) in enumerate(docs) if text.strip()}
    hits = [make_hit(f"d{i}", t, lang) for i, (t, lang) in enumerate(docs) if t.strip()]
    sources = generate.pack(hits, texts.__getitem__, budget=400)
    written = generate.check(reply, sources, answer_lang, texts.__getitem__)
    assert [c.n for c in written.citations] == list(range(1, len(written.citations) + 1))
    for c in written.citations:
        (source,) = [s for s in sources if s.hit.chunk.chunk_id == c.chunk_id]
        assert source.start <= c.start < c.end <= source.end
        assert verify(c, texts[c.doc_id])
    # The answer text holds our markers only: every one names a citation of this answer.
    assert set(parse_markers(written.text)) <= {c.n for c in written.citations}
    assert {int(n) for n in MARKER_LIKE.findall(written.text)} <= {c.n for c in written.citations}
    assert len(written.sentences) == len(written.text.split("\n")) or not written.text


# --- the JSONL reader ------------------------------------------------------------------------

json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | hostile_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
row_id = st.one_of(
    st.none(),
    st.just(""),
    st.integers(-(10**6), 10**6),
    st.text(hostile_char, min_size=1, max_size=20),
    st.sampled_from(["fa-1", "ar-1", "en-1", "line2", True, 1.5, [1], {"a": 1}]),
)
row = st.fixed_dictionaries(
    {"id": row_id, "text": st.one_of(hostile_text, hostile_text, json_value)},
    optional={
        "title": st.one_of(hostile_text, json_value),
        "lang": st.one_of(LANG, json_value),
        "date": st.one_of(st.sampled_from(["2018-09-17", "۱۳۹۷/۰۶/۲۶", "17 Sep"]), json_value),
        "source": json_value,
        "url": json_value,
        "meta": st.one_of(
            st.fixed_dictionaries({}, optional={"date": json_value, "source": json_value}),
            json_value,
        ),
    },
)
line = st.one_of(
    st.tuples(st.just("row"), row, st.booleans()),
    st.tuples(st.just("raw"), st.one_of(hostile_text, st.sampled_from(["{", "[]", "1", "null"]))),
    st.tuples(st.just("blank"), st.sampled_from(["", "   ", "\t"])),
)


def _valid_id(value: object, lineno: int) -> str | None:
    if value is None or value == "":
        return f"line{lineno}"
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value)
    if len(text) > 200 or any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in text):
        return None
    return text


@budget(0.25)
@given(st.lists(line, max_size=6), st.sampled_from(["\n", "\r\n"]))
@example([("row", {"id": "fa-1", "text": "پوتین\u2028اردوغان\x85سوچی\u2029"}, False)], "\n")
def test_jsonl_reader_never_raises_and_keeps_rows_exactly(
    tmp_path_factory: pytest.TempPathFactory, lines: list[tuple], newline: str
) -> None:
    rendered = []
    for kind, *rest in lines:
        if kind == "row":
            obj, ascii_only = rest
            rendered.append(json.dumps(obj, ensure_ascii=ascii_only))
        elif kind == "raw":
            # A raw line: anything but a line break (those would make it several lines).
            rendered.append("".join(ch for ch in rest[0] if ch not in "\r\n"))
        else:
            rendered.append(rest[0])
    path: Path = tmp_path_factory.mktemp("jsonl") / "corpus.jsonl"
    path.write_text(newline.join(rendered), encoding="utf-8", newline="")
    out = list(_read_jsonl(path, "corpus.jsonl"))
    assert all(isinstance(item, SourceDoc | IngestError) for item in out)
    whole_file = [i for i in out if isinstance(i, IngestError) and i.line is None]
    if whole_file:
        # The file as a whole is refused only when empty or binary (a NUL byte, which JSON
        # never writes raw): one error that says why, and no rows.
        event("whole file refused")
        assert len(out) == 1, out
        content = newline.join(rendered)
        assert not content.strip() or "\x00" in content, whole_file
        return
    by_line: dict[int, SourceDoc | IngestError] = {}
    for item in out:
        lineno = item.line if isinstance(item, IngestError) else int(item.meta["line"])
        assert lineno is not None and lineno not in by_line
        by_line[lineno] = item
    seen: set[str] = set()
    for lineno, (spec, text_line) in enumerate(zip(lines, rendered, strict=True), start=1):
        if not text_line.strip():
            assert lineno not in by_line
            continue
        item = by_line[lineno]
        obj = spec[1] if spec[0] == "row" else None
        body = obj.get("text") if isinstance(obj, dict) else None
        ident = _valid_id(obj.get("id"), lineno) if isinstance(obj, dict) else None
        good = isinstance(body, str) and body.strip() and ident is not None and ident not in seen
        if good:
            assert isinstance(item, SourceDoc), item
            assert item.text == body  # exactly the row's text, not a byte changed
            assert item.doc_id == f"corpus.jsonl#{ident}"
            seen.add(str(ident))
        elif isinstance(item, SourceDoc):
            # A raw line may happen to be valid JSONL itself.
            assert spec[0] == "raw"
            seen.add(item.doc_id.split("#", 1)[1])
