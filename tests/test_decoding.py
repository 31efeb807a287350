"""Decoding plain-text files: BOMs, strict UTF-8, BOM-less UTF-16, windows-1256 and ISO-8859-6
chosen by plausibility, and doubtful bytes reported instead of indexed as gibberish."""

from __future__ import annotations

import codecs
import random
from pathlib import Path

import pytest
from conftest import DATA, SAMPLES

from rag.config import Settings
from rag.decoding import decode
from rag.engine import Engine
from rag.errors import IngestError
from rag.indexing import index_paths

FA = "پوتین و اردوغان در سوچی درباره ادلب گفت‌وگو کردند؛ «کاهش تنش» ادامه دارد؟ ۱۴۰۳"
AR = "قال الكرملين إن بوتين وأردوغان بحثا الوضع في إدلب، واتفقا على خفض التوتر."
EN = "Putin and Erdogan discussed Idlib in Sochi on 5 March 2020."
MIXED = "Idlib / ادلب / إدلب — Sochi / سوچی / سوتشي"

CASES = [
    # (text, encoding written, encoding expected back)
    (FA, "utf-8", "utf-8"),
    (AR, "utf-8", "utf-8"),
    (MIXED, "utf-8", "utf-8"),
    (FA, "utf-8-sig", "utf-8"),
    (AR, "utf-16", "utf-16-le"),  # Python writes a little-endian BOM
    (FA, "utf-16-be-bom", "utf-16-be"),
    (MIXED, "utf-16-le-bom", "utf-16-le"),
    (AR, "utf-16-le", "utf-16-le"),  # no BOM
    (FA, "utf-16-be", "utf-16-be"),  # no BOM
    (AR, "cp1256", "cp1256"),
    (AR, "iso8859_6", "iso8859_6"),
    (EN, "cp1256", "utf-8"),  # pure ASCII is valid UTF-8
]


def _encode(text: str, how: str) -> bytes:
    if how == "utf-16-be-bom":
        return codecs.BOM_UTF16_BE + text.encode("utf-16-be")
    if how == "utf-16-le-bom":
        return codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    return text.encode(how)


@pytest.mark.parametrize(("text", "how", "expected"), CASES)
def test_round_trip(text: str, how: str, expected: str) -> None:
    decoded = decode(_encode(text, how), "x.txt")
    assert decoded.text == text
    assert decoded.encoding == expected


def test_windows_1256_persian_has_arabic_yeh_and_search_folds_it(tmp_path: Path) -> None:
    # Windows-1256 has no Persian yeh (ی) or keheh (ک): old Persian files use ي and ك.
    legacy = FA.replace("ی", "ي").replace("ک", "ك").replace("\u200c", " ").replace("۱۴۰۳", "")
    path = tmp_path / "old.txt"
    path.write_bytes(legacy.encode("cp1256"))
    decoded = decode(path.read_bytes(), str(path))
    assert decoded.encoding == "cp1256" and decoded.text == legacy
    settings = Settings().with_index(tmp_path / "index")
    index_paths([path], settings)
    engine = Engine(settings)
    try:  # a question typed with Persian letters finds the Arabic-letter text
        hits = engine.search("گفت‌وگو کاهش تنش ادلب")
        assert hits and hits[0].doc.doc_id == "old.txt"
    finally:
        engine.close()


def test_bundled_legacy_fixture() -> None:
    path = DATA / "encodings" / "fa_cp1256.txt"
    decoded = decode(path.read_bytes(), str(path))
    assert decoded.encoding == "cp1256"
    assert decoded.text.startswith("گزارش هواشناسي")


def _windows(lang_prefix: str, n: int, seed: int) -> list[str]:
    (path,) = SAMPLES.glob(lang_prefix + "*")
    text = " ".join(path.read_text("utf-8").split())
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        start = rng.randrange(0, len(text) - 90)
        out.append(text[start : start + rng.randrange(30, 90)].strip())
    return out


@pytest.mark.parametrize(
    ("prefix", "encoding"),
    [("000_", "cp1256"), ("003_", "cp1256"), ("003_", "iso8859_6")],
)
def test_short_samples_decode_to_their_characters(prefix: str, encoding: str) -> None:
    """200 short windows of the Persian and Arabic samples in each legacy code page: at least
    99% come back exactly; none is silently garbled (a miss is a reported error)."""
    ok = total = 0
    for window in _windows(prefix, 200, seed=len(prefix) + len(encoding)):
        # Keep what the code page can hold (Persian yeh/keheh as their Arabic forms).
        text = window.replace("ی", "ي").replace("ک", "ك").replace("\u200c", " ")
        text = text.encode(encoding, errors="ignore").decode(encoding)
        data = text.encode(encoding)
        if not text.strip() or data.isascii():
            continue
        total += 1
        try:
            decoded = decode(data, "w.txt")
        except IngestError as err:
            assert "doubtful" in err.reason
            continue
        assert decoded.text == text, (encoding, decoded.encoding, text)
        ok += 1
    assert total >= 150 and ok / total >= 0.99, (ok, total)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"  \n\t ", "empty"),
        (b"\x00\x01\x02\x03binary\x00\xff\xfe\x00", "binary"),
        ("Le président a déclaré à la presse".encode("latin-1"), "doubtful"),
        (random.Random(7).randbytes(400).translate(bytes(range(128, 256)) * 2), "doubtful"),
        (codecs.BOM_UTF8 + b"\xff\xfe broken", "byte-order mark"),
    ],
)
def test_bad_bytes_are_reported(data: bytes, reason: str) -> None:
    with pytest.raises(IngestError) as info:
        decode(data, "bad.txt")
    assert reason in info.value.reason
    assert str(info.value).startswith("bad.txt:")
