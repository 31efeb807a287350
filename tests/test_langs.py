"""rag.langs: detect(text, default) for fa/ar/en and direction(lang)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.langs import SUPPORTED, detect, direction

SHORT_FA = [
    "توافق سوچی چه بود؟",
    "ال جی متعلق به کدام کشور است؟",  # a brand written like the Arabic article
    "ال نینو چیست؟",
    "رئیس جمهور ترکیه",
    "سوچی کجاست؟",
    "اردوغان کیست؟",
    "قیمت نفت کاهش یافت",
    "سفر ظریف به مسکو",
    "آتش‌بس در ادلب",
    "گفت‌وگوی تلفنی پوتین",
    "تحریم‌های آمریکا",
    "مذاکرات هسته‌ای وین",
    "زلزله در کرمانشاه",
    "دیدار روحانی و اردوغان",
    "وزیر امور خارجه",
    "نرخ تورم",
]
SHORT_AR = [
    "ما هو اتفاق سوتشي؟",
    "وزارة الخارجية الروسية",
    "الرئيس التركي أردوغان",
    "أين يقع سوتشي؟",
    "من هو أردوغان؟",
    "بوتين يلتقي أردوغان",
    "وقف إطلاق النار",
    "مقتل جنود أتراك",
    "هدنة في إدلب",
    "هل انتهت الحرب؟",
    "ماذا قال المتحدث؟",
    "العقوبات الأمريكية على إيران",
    "بيان مشترك",
    "رئيس الوزراء",
]
SHORT_EN = [
    "What was the Sochi agreement?",
    "Turkish president Erdogan",
    "Russian foreign ministry",
    "Oil prices fall",
    "UN Security Council",
    "ceasefire in Idlib",
    "Who is Erdogan?",
    "Where is Sochi?",
    "Iran nuclear talks",
    "Erdoğan meets Putin",
    "Earthquake hits Kermanshah",
    "Who signed the deal?",
]
LONG_FA = [
    "به گزارش خبرگزاری ایسنا، ولادیمیر پوتین، رئیس‌جمهور روسیه، روز دوشنبه در سوچی با رجب طیب "
    "اردوغان دیدار کرد و دو طرف درباره آینده استان ادلب گفت‌وگو کردند.",
    "سخنگوی وزارت امور خارجه ایران در نشست خبری هفتگی خود گفت که تهران از هر توافقی که به "
    "کاهش خشونت در سوریه بینجامد حمایت می‌کند.",
]
LONG_AR = [
    "قال الرئيس الروسي فلاديمير بوتين، اليوم الثلاثاء، إن بلاده توصلت مع تركيا إلى اتفاق "
    "لإقامة منطقة منزوعة السلاح في محافظة إدلب السورية.",
    "وأضاف المتحدث باسم وزارة الخارجية أن المحادثات ستستأنف الأسبوع المقبل في العاصمة "
    "الكازاخستانية بمشاركة ممثلين عن الحكومة والمعارضة.",
]
LONG_EN = [
    "Russian President Vladimir Putin said on Tuesday that Moscow and Ankara had agreed to set "
    "up a demilitarized zone in Syria's Idlib province.",
    "Erdoğan told reporters in Ankara that Turkey would keep its observation posts in Idlib "
    "and that the ceasefire was holding.",
]
MIXED = [
    # Persian sentence with Latin names
    (
        "به گزارش ایرنا، رجب طیب Erdoğan و Vladimir Putin در نشست خبری مشترک اعلام کردند که "
        "منطقه حائل در ادلب ایجاد می‌شود.",
        "fa",
    ),
    # Arabic sentence with Latin names
    (
        "أعلن وزير الخارجية التركي مولود جاويش أوغلو أن المحادثات مع NATO و Washington ستستمر "
        "الأسبوع المقبل.",
        "ar",
    ),
    # English sentence quoting Persian and Arabic
    (
        "Iranian media called the meeting a 'گفت‌وگو' between equals, and Al Jazeera quoted an "
        "official as saying «اتفاق سوتشي» was still valid.",
        "en",
    ),
    ("نشست NATO در بروکسل", "fa"),
    ("قمة NATO في بروكسل", "ar"),
    ("The word «آتش‌بس» means ceasefire", "en"),
]


@pytest.mark.parametrize("text", SHORT_FA + LONG_FA)
def test_persian(text: str) -> None:
    assert detect(text) == "fa"


@pytest.mark.parametrize("text", SHORT_AR + LONG_AR)
def test_arabic(text: str) -> None:
    assert detect(text) == "ar"


@pytest.mark.parametrize("text", SHORT_EN + LONG_EN)
def test_english(text: str) -> None:
    assert detect(text) == "en"


@pytest.mark.parametrize(("text", "lang"), MIXED)
def test_mixed_script(text: str, lang: str) -> None:
    assert detect(text) == lang


@pytest.mark.parametrize(
    "text",
    [
        # Persian typed with Arabic ي/ك (old news sites)
        "رئيس جمهور روسيه تلفني با اردوغان گفتوگو كرد",
        "بر پایه اين گزارش، وزير امور خارجه ايران در ديدار با همتاي روس خود گفت كه تهران از "
        "توافق سوچي حمايت مي‌كند.",
        "سخنان روحاني",
        "سخنگوي دولت",
        "مذاكرات هسته اي",
        "مي گويد",
        "كشورهاي منطقه",
        "تحريم هاي آمريكا",
        "رئيس جمهور روسيه",
    ],
)
def test_persian_in_arabic_letters_is_persian(text: str) -> None:
    assert detect(text) == "fa"


@pytest.mark.parametrize("default", ["fa", "ar", "en"])
@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "2018",
        "123 456",
        "---",
        "(10/12)",
        "😀😀",
        "!!! ...",
    ],
)
def test_no_letters_returns_default(text: str, default: str) -> None:
    assert detect(text, default) == default


@pytest.mark.parametrize(
    "text",
    [
        "۲۰۱۸/۱۰/۱۲",  # Persian digits U+06F0..
        "٢٠١٨",  # Arabic-Indic digits U+0660..
        "؟",  # Arabic question mark U+061F
        "«» ، ؛ ٪",  # Arabic comma U+060C, semicolon U+061B, percent U+066A
        "2018 ؟",
    ],
)
def test_arabic_script_digits_and_punctuation_are_not_letters(text: str) -> None:
    # default="en" differs from whatever script guess (fa/ar) comes back.
    assert detect(text, "en") == "en"


def test_default_parameter_is_english() -> None:
    assert detect("") == "en"
    assert detect("12345") == "en"


@pytest.mark.parametrize(
    ("lang", "expected"),
    [("fa", "rtl"), ("ar", "rtl"), ("en", "ltr"), ("de", "ltr"), ("", "ltr")],
)
def test_direction(lang: str, expected: str) -> None:
    assert direction(lang) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("توافق سوچی چه بود؟", "rtl"),
        ("ما هو اتفاق سوتشي؟", "rtl"),
        ("What was the Sochi agreement?", "ltr"),
        ("نشست NATO در بروکسل", "rtl"),
    ],
)
def test_direction_of_detected_language(text: str, expected: str) -> None:
    assert direction(detect(text)) == expected


@settings(max_examples=100, deadline=None)
@given(
    st.text(
        st.one_of(
            st.characters(min_codepoint=0x0621, max_codepoint=0x064A),
            st.sampled_from(list("پچژگکی \u200c")),
            st.characters(min_codepoint=0x41, max_codepoint=0x7A),
            st.characters(),
        ),
        max_size=80,
    ),
    st.sampled_from(SUPPORTED),
)
def test_detect_always_returns_a_supported_language(text: str, default: str) -> None:
    assert detect(text, default) in SUPPORTED
