"""rag.normalize: clean (Unicode form, controls, marks, digits, ZWNJ) and fold (letter variants)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.normalize import clean, fold, normalize

HARAKAT = re.compile("[\u064b-\u065f\u0670]")
TATWEEL = "\u0640"
BIDI = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069\u061c]")
NON_ASCII_DIGITS = re.compile("[\u0660-\u0669\u06f0-\u06f9]")


# --- letter variants -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variant", "canonical"),
    [
        # fa: Persian words typed on an Arabic keyboard (old news sites)
        ("كشورهاي منطقه", "کشورهای منطقه"),
        ("رئيس جمهور", "رییس جمهور"),
        ("رئیس جمهور", "رییس جمهور"),
        ("مصطفى", "مصطفی"),
        ("تهران و مسكو", "تهران و مسکو"),
        # ar: the same Arabic words with ي/ى at the end
        ("الرئيس التركي", "الرییس الترکی"),
        ("على الحدود", "علی الحدود"),
        # mixed script
        ("Sochi سوتشي", "sochi سوتشی"),
        ("NATO و آمريكا", "nato و امریکا"),
    ],
)
def test_yeh_and_kaf_variants_fold_to_persian_letters(variant: str, canonical: str) -> None:
    assert normalize(variant) == canonical
    assert normalize(variant) == normalize(canonical)


@pytest.mark.parametrize(
    ("variant", "canonical"),
    [
        # ar
        ("أردوغان", "اردوغان"),
        ("إدلب", "ادلب"),
        ("آمریکا", "امریکا"),
        ("ٱلله", "الله"),
        ("مسؤول", "مسوول"),
        ("المؤتمر الصحفي", "الموتمر الصحفی"),
        # fa
        ("آتش‌بس", "اتشبس"),
        ("مسئول روابط عمومی", "مسیول روابط عمومی"),
        # mixed
        ("Erdoğan أردوغان", "erdogan اردوغان"),
    ],
)
def test_alef_and_hamza_forms_fold(variant: str, canonical: str) -> None:
    assert normalize(variant) == canonical


@pytest.mark.parametrize(
    ("variant", "canonical"),
    [
        ("مدرسة", "مدرسه"),
        ("وزارة الخارجية الروسية", "وزاره الخارجیه الروسیه"),
        ("قمة سوتشي", "قمه سوتشی"),
        ("همۀ کشورها", "همه کشورها"),
        ("ھیئت", "هییت"),
        ("Sochi summit قمة", "sochi summit قمه"),
    ],
)
def test_teh_marbuta_and_heh_forms_fold_to_heh(variant: str, canonical: str) -> None:
    assert normalize(variant) == canonical


@pytest.mark.parametrize(
    "text",
    ["كشورهاي", "وزارة", "مصطفى", "أردوغان", "ٱلله", "مسؤول", "همۀ", "plain english"],
)
def test_fold_is_idempotent_and_only_changes_letters(text: str) -> None:
    folded = fold(text)
    assert fold(folded) == folded
    assert len(folded) <= len(text)


def test_clean_keeps_letter_variants_for_the_arabic_stemmer() -> None:
    # The Arabic stemmer needs ي/ك/ة: clean must not fold them, normalize must.
    assert clean("الخارجية التركية في سوتشي") == "الخارجية التركية في سوتشي"
    assert clean("كشورهاي") == "كشورهاي"
    assert normalize("كشورهاي") == "کشورهای"


# --- harakat and tatweel ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("marked", "plain"),
    [
        # ar
        ("مُحَمَّدٌ", "محمد"),
        ("مُحَمَّدٌ رَسُولُ اللَّهِ", "محمد رسول الله"),
        ("قالَ الرَّئِيسُ الرُّوسِيُّ", "قال الرییس الروسی"),
        ("اتِّفاقُ سوتشي", "اتفاق سوتشی"),
        # fa
        ("ســـلام", "سلام"),
        ("تهـــــران", "تهران"),
        ("مُذاکِرات", "مذاکرات"),
        ("کِشوَر", "کشور"),
        # mixed
        ("Putin بـــوتين", "putin بوتین"),
        ("Erdoğan: «أَرْدُوغانُ»", "erdogan: «اردوغان»"),
    ],
)
def test_harakat_and_tatweel_are_removed(marked: str, plain: str) -> None:
    out = normalize(marked)
    assert out == plain
    assert not HARAKAT.search(out)
    assert TATWEEL not in out


# --- digits ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variants",
    [
        ("۲۰۱۸", "٢٠١٨", "2018"),
        ("سال ۱۳۹۷", "سال ١٣٩٧", "سال 1397"),
        ("۱۵ کیلومتر", "١٥ کیلومتر", "15 کیلومتر"),
        ("في عام ٢٠١٨", "في عام ۲۰۱۸", "في عام 2018"),
        ("October ۱۰, 2018", "October ١٠, 2018", "October 10, 2018"),
    ],
)
def test_three_digit_sets_fold_to_ascii(variants: tuple[str, str, str]) -> None:
    outs = {normalize(v) for v in variants}
    assert len(outs) == 1
    assert not NON_ASCII_DIGITS.search(outs.pop())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("نرخ تورم ٣٫٥ درصد", "نرخ تورم 3.5 درصد"),
        ("١٢٬٥٠٠ جندي", "12,500 جندی"),
        ("inflation ۳.۵ percent", "inflation 3.5 percent"),
    ],
)
def test_arabic_decimal_and_thousands_separators(text: str, expected: str) -> None:
    assert normalize(text) == expected


# --- bidi and zero-width controls ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\u200fتوافق سوچی\u200e", "توافق سوچی"),
        ("\u202bاتفاق سوتشي\u202c", "اتفاق سوتشی"),
        ("\u202aSochi agreement\u202c", "sochi agreement"),
        ("\u2067رئیس جمهور\u2069", "رییس جمهور"),
        ("\u2066NATO\u2069 و \u2068ترکیه\u2069", "nato و ترکیه"),
        ("\u061cالرئيس\u061c التركي", "الرییس الترکی"),
        ("\u202dEr\u202edo\u202cgan", "erdogan"),
        ("گفت\u200cوگو", "گفتوگو"),
        ("\ufeffتهران\u200b", "تهران"),
    ],
)
def test_bidi_and_zero_width_controls_are_removed(text: str, expected: str) -> None:
    out = normalize(text)
    assert out == expected
    assert not BIDI.search(out)
    assert "\u200c" not in out


# --- NFKC and Latin accents ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("presentation", "base"),
    [
        ("ﻻ", "لا"),
        ("ﮐﻨﯿﻦ", "کنین"),
        ("ﺍﻟﺮﺋﻴﺲ", "الرییس"),
        ("ﻃﻬﺮﺍﻥ", "طهران"),
        ("ﷲ", "الله"),
        ("ﺳﻮﺗﺸﻲ Sochi", "سوتشی sochi"),
        ("ﬁnance", "finance"),
    ],
)
def test_nfkc_folds_presentation_forms_to_base_letters(presentation: str, base: str) -> None:
    assert normalize(presentation) == base


@pytest.mark.parametrize(
    ("accented", "plain"),
    [
        ("Erdoğan", "erdogan"),
        ("Çavuşoğlu", "cavusoglu"),
        ("Türkiye", "turkiye"),
        ("Mevlüt Çavuşoğlu گفت", "mevlut cavusoglu گفت"),
        ("قال Erdoğan إن", "قال erdogan ان"),
        ("ERDOĞAN", "erdogan"),
    ],
)
def test_latin_accents_and_case_are_folded(accented: str, plain: str) -> None:
    assert normalize(accented) == plain
    assert clean(accented) == plain


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  توافق   سوچی \n چه بود؟  ", "توافق سوچی چه بود؟"),
        ("ما\tهو\n\nاتفاق سوتشي؟", "ما هو اتفاق سوتشی؟"),
        ("  What  was\tthe  deal? ", "what was the deal?"),
        ("Putin \u00a0 پوتین", "putin پوتین"),
    ],
)
def test_whitespace_collapsed_and_trimmed(text: str, expected: str) -> None:
    assert normalize(text) == expected


# --- properties ------------------------------------------------------------------------------

SPECIALS = list(
    "\u200c\u200d\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2066\u2067\u2068\u2069\u061c\u0640\ufeff\u00ad \n\t.,؟،؛«»"
)
mixed_text = st.text(
    st.one_of(
        st.characters(min_codepoint=0x0600, max_codepoint=0x06FF),
        st.characters(min_codepoint=0x0660, max_codepoint=0x0669),
        st.characters(min_codepoint=0x06F0, max_codepoint=0x06F9),
        st.characters(min_codepoint=0x0030, max_codepoint=0x0039),
        st.characters(min_codepoint=0x0041, max_codepoint=0x007A),
        st.characters(min_codepoint=0x00C0, max_codepoint=0x024F),
        st.characters(min_codepoint=0xFB50, max_codepoint=0xFEFC),
        st.sampled_from(SPECIALS),
        st.characters(),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(mixed_text)
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


@settings(max_examples=300, deadline=None)
@given(mixed_text)
def test_clean_is_idempotent(text: str) -> None:
    once = clean(text)
    assert clean(once) == once


@settings(max_examples=300, deadline=None)
@given(mixed_text)
def test_normalize_output_has_no_marks_controls_or_non_ascii_digits(text: str) -> None:
    out = normalize(text)
    assert not HARAKAT.search(out)
    assert TATWEEL not in out
    assert not BIDI.search(out)
    assert not NON_ASCII_DIGITS.search(out)
    assert "\u200c" not in out
    assert out == out.strip()
    assert "  " not in out


@settings(max_examples=200, deadline=None)
@given(mixed_text)
def test_normalize_is_fold_of_clean(text: str) -> None:
    assert normalize(text) == fold(clean(text))
