"""Short Persian and Arabic samples in the legacy code pages and the Unicode encodings with a
byte-order mark decode to the characters their bytes encode.

200 samples per encoding, each one to eight real words drawn (fixed seed) from the lists
below, with punctuation and digits now and then. At least 99% must come back exactly, and
none may come back wrong in silence: a sample that is not decoded exactly must be reported as
doubtful (an IngestError naming the file), never indexed as other letters. Windows-1256 has no
Persian yeh (ی): Persian there is written with Arabic yeh (ي), as old Persian files are, and
comes back with it (keheh, ک, is in the code page at 0x98 and comes back as itself).
"""

from __future__ import annotations

import codecs
import random
from pathlib import Path

import pytest

from rag.config import Settings
from rag.decoding import decode
from rag.errors import IngestError
from rag.indexing import index_paths

FA_WORDS = (
    "ایران تهران اصفهان شیراز دولت مجلس وزیر رئیس جمهور گزارش خبرگزاری روز هفته سال ماه "
    "امروز دیروز فردا کشور مردم شهر استان نشست دیدار گفت‌وگو توافق بیانیه سخنگوی سفر "
    "اقتصاد بازار قیمت نفت گاز آب برق نان کتاب دانشگاه دانشجو مدرسه بیمارستان پزشک "
    "زلزله باران برف هوا آلودگی جنگ صلح مرز امنیت پلیس دادگاه قانون انتخابات نامزد رأی "
    "می‌گوید می‌شود کرد شد است بود خواهد گفت اعلام افزایش کاهش ادامه پایان آغاز "
    "پیش‌بینی ژاپن چین گرجستان آمریکا روسیه ترکیه سوریه عراق افغانستان پاکستان"
).split()
AR_WORDS = (
    "العراق سوريا لبنان مصر الأردن تونس المغرب الجزائر قطر الكويت الحكومة البرلمان "
    "الوزير الرئيس رئيس الوزراء وكالة الأنباء تقرير اليوم الأسبوع السنة الشهر أمس غدا "
    "البلاد الشعب المدينة المحافظة اجتماع لقاء محادثات اتفاق بيان المتحدث زيارة "
    "الاقتصاد السوق الأسعار النفط الغاز الماء الكهرباء الخبز الكتاب الجامعة الطلاب "
    "المدرسة المستشفى الطبيب زلزال المطر الثلج الطقس التلوث الحرب السلام الحدود الأمن "
    "الشرطة المحكمة القانون الانتخابات المرشح صوت قال يقول أعلن أكد ارتفاع انخفاض "
    "استمرار نهاية بداية مؤتمر مسؤول إدارة شؤون هيئة قوى أزمة الطائرة مستشفى فتى "
    "على إلى في من عن مع بعد قبل حتى الذي التي هذا هذه"
).split()
PUNCT = ["", "", "", "،", ".", "؟", "!", ":", "؛"]

SAMPLES = 200


def _sample(rng: random.Random, words: list[str]) -> str:
    out = []
    for _ in range(rng.randint(1, 8)):
        word = rng.choice(words)
        if rng.random() < 0.1:
            word = str(rng.randint(1, 2025))
        out.append(word + rng.choice(PUNCT))
    return " ".join(out)


def _cp1256_persian(text: str) -> str:
    """Persian as windows-1256 holds it: Arabic yeh for Persian yeh."""
    return text.replace("ی", "ي")


ENCODINGS = {
    # name: (word list, text as the code page holds it, text -> bytes)
    "windows-1256 Persian": (FA_WORDS, _cp1256_persian, lambda t: t.encode("cp1256")),
    "windows-1256 Arabic": (AR_WORDS, lambda t: t, lambda t: t.encode("cp1256")),
    "ISO-8859-6 Arabic": (AR_WORDS, lambda t: t, lambda t: t.encode("iso8859_6")),
    "UTF-16 LE with BOM, Persian": (
        FA_WORDS,
        lambda t: t,
        lambda t: codecs.BOM_UTF16_LE + t.encode("utf-16-le"),
    ),
    "UTF-16 BE with BOM, Arabic": (
        AR_WORDS,
        lambda t: t,
        lambda t: codecs.BOM_UTF16_BE + t.encode("utf-16-be"),
    ),
    "UTF-8 with BOM, Persian and Arabic": (
        FA_WORDS + AR_WORDS,
        lambda t: t,
        lambda t: codecs.BOM_UTF8 + t.encode("utf-8"),
    ),
}


def measure(name: str, n: int = SAMPLES, seed: int = 1256) -> tuple[int, int, list[str]]:
    """(exact decodes, samples, wrong decodes that were not reported) for one encoding."""
    words, held, encode = ENCODINGS[name]
    rng = random.Random(f"{seed}-{name}")
    exact, silent = 0, []
    for _ in range(n):
        text = held(_sample(rng, words))
        data = encode(text)
        try:
            decoded = decode(data, "sample.txt")
        except IngestError as err:
            # Reported, not silent: the reason says the encoding is in doubt.
            assert "doubtful" in err.reason and str(err).startswith("sample.txt: "), err
            continue
        if decoded.text == text:
            exact += 1
        else:
            silent.append(f"{text!r} -> {decoded.text!r} ({decoded.encoding})")
    return exact, n, silent


@pytest.mark.parametrize("name", list(ENCODINGS))
def test_short_samples_decode_to_the_characters_their_bytes_encode(name: str) -> None:
    exact, n, silent = measure(name)
    assert not silent, silent[:5]  # a wrong decode is never returned in silence
    assert exact / n >= 0.99, f"{name}: {exact}/{n} = {exact / n:.3f}"


def test_the_samples_are_what_they_claim() -> None:
    """The word lists are Persian and Arabic, and the legacy samples need the code page."""
    rng = random.Random(3)
    persian = "".join(_sample(rng, FA_WORDS) for _ in range(50))
    assert {"پ", "چ", "ژ", "گ", "ک", "ی"} <= set(persian)
    arabic = "".join(_sample(rng, AR_WORDS) for _ in range(50))
    assert {"ة", "ى", "أ", "إ", "ؤ", "ئ"} <= set(arabic)
    held = _cp1256_persian(persian)
    assert "ی" not in held and "ي" in held and "ک" in held
    assert not held.encode("cp1256").isascii()


DOUBTFUL = [
    # (what, bytes): none of these is UTF-8 or plausible Arabic-script text in a code page.
    ("French in Latin-1", "Le ministre a déclaré à l'Élysée que l'été sera chaud."),
    (
        "German in Latin-1",
        "Die Verhandlungen in Genf wurden am Dienstag fortgesetzt, für Österreich.",
    ),
    ("Russian in windows-1251", "Переговоры в Женеве продолжились во вторник."),
    ("Greek in windows-1253", "Οι διαπραγματεύσεις συνεχίστηκαν την Τρίτη."),
]
CODEC = {
    "French in Latin-1": "latin-1",
    "German in Latin-1": "latin-1",
    "Russian in windows-1251": "cp1251",
    "Greek in windows-1253": "cp1253",
}


@pytest.mark.parametrize(("what", "text"), DOUBTFUL, ids=[d[0] for d in DOUBTFUL])
def test_a_doubtful_decode_is_reported(what: str, text: str) -> None:
    with pytest.raises(IngestError) as info:
        decode(text.encode(CODEC[what]), "old.txt")
    assert "doubtful" in info.value.reason and "UTF-8" in info.value.reason


def test_doubtful_files_are_reported_by_ingest_and_legacy_ones_indexed(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    rng = random.Random(9)
    fa = _cp1256_persian(" ".join(_sample(rng, FA_WORDS) for _ in range(5)))
    ar = " ".join(_sample(rng, AR_WORDS) for _ in range(5))
    (folder / "fa_1256.txt").write_bytes(fa.encode("cp1256"))
    (folder / "ar_iso.txt").write_bytes(ar.encode("iso8859_6"))
    (folder / "ru.txt").write_bytes(DOUBTFUL[2][1].encode("cp1251"))
    report = index_paths([folder], Settings().with_index(tmp_path / "index"))
    assert sorted(report.added) == ["ar_iso.txt", "fa_1256.txt"]
    (err,) = report.failed
    assert str(err).startswith(f"{folder / 'ru.txt'}: ") and "doubtful" in err.reason
