"""rag.analysis (analyze, words, stopwords) and rag.persian_stem (stem).

Assertions are about what search needs (shared tokens between spellings, stopwords gone), not
about the exact stems, which the analyzer is free to change.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.analysis import analyze, stopwords, words
from rag.normalize import fold, normalize
from rag.persian_stem import stem


def shared(a: str, b: str, lang: str) -> set[str]:
    return set(analyze(a, lang)) & set(analyze(b, lang))


# --- ZWNJ, joined and spaced spellings (fa) --------------------------------------------------


@pytest.mark.parametrize(
    "spellings",
    [
        ("گفت\u200cوگو", "گفتوگو", "گفت وگو"),
        ("گفت\u200cوگوی تلفنی", "گفتوگوی تلفنی", "گفت وگوی تلفنی"),
        ("جست\u200cوجو", "جستوجو", "جست وجو"),
        ("می\u200cگیرد", "میگیرد", "می گیرد"),
        ("نمی\u200cگیرند", "نمیگیرند", "نمی گیرند"),
        ("می\u200cگوید", "میگوید", "می گوید"),
        ("پوتین با اردوغان گفت\u200cوگو کرد", "پوتین با اردوغان گفتوگو کرد", "پوتین گفت وگو"),
    ],
)
def test_zwnj_joined_and_spaced_spellings_share_a_token(spellings: tuple[str, ...]) -> None:
    token_sets = [set(analyze(s, "fa")) for s in spellings]
    common = set.intersection(*token_sets)
    assert common, token_sets


@pytest.mark.parametrize(
    ("spellings", "base"),
    [
        (("کتاب\u200cها", "کتابها", "کتاب ها"), "کتاب"),
        (("کتاب\u200cهای تاریخی", "کتابهای تاریخی", "کتاب های تاریخی"), "کتاب"),
        (("کشور\u200cهای منطقه", "کشورهای منطقه", "کشور های منطقه"), "کشور"),
        (("تحریم\u200cها", "تحریمها", "تحریم ها"), "تحریم"),
        (("بزرگ\u200cتر", "بزرگتر", "بزرگ تر"), "بزرگ"),
        (("بزرگ\u200cترین شهر", "بزرگترین شهر", "بزرگ ترین شهر"), "بزرگ"),
    ],
)
def test_plural_and_comparative_spellings_give_the_base_token(
    spellings: tuple[str, ...], base: str
) -> None:
    base_tokens = analyze(base, "fa")
    assert base_tokens == [stem(base)]
    for spelling in spellings:
        assert base_tokens[0] in analyze(spelling, "fa"), spelling


# --- Arabic-letter Persian (ي/ك) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("arabic_letters", "persian_letters"),
    [
        ("كشورهاي ايران", "کشورهای ایران"),
        ("رئيس جمهور روسيه", "رئیس جمهور روسیه"),
        ("سخنگوي وزارت خارجه", "سخنگوی وزارت خارجه"),
        ("تحريم هاي آمريكا", "تحریم های آمریکا"),
        ("مذاكرات هسته اي وين", "مذاکرات هسته ای وین"),
        (
            "رئيس جمهور روسيه تلفني با اردوغان گفتوگو كرد",
            "رئیس جمهور روسیه تلفنی با اردوغان گفت\u200cوگو کرد",
        ),
        ("نشست NATO در بروكسل", "نشست NATO در بروکسل"),
    ],
)
def test_arabic_letter_persian_meets_persian_letter_text(
    arabic_letters: str, persian_letters: str
) -> None:
    old = analyze(arabic_letters, "fa")
    new = analyze(persian_letters, "fa")
    assert old
    assert set(old) <= set(new)


@pytest.mark.parametrize(
    ("a", "b", "lang"),
    [
        ("أردوغان", "اردوغان", "ar"),
        ("إيران", "ايران", "ar"),
        ("مدرسة", "مدرسه", "ar"),
        ("الرئيس التركي", "الرئیس الترکی", "ar"),
        ("بوتين وأردوغان في سوتشي", "بوتین و اردوغان فی سوتشی", "ar"),
    ],
)
def test_arabic_letter_variants_meet(a: str, b: str, lang: str) -> None:
    assert shared(a, b, lang)


# --- stopwords -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lang", "absent"),
    [
        ("The talks in Sochi ended on the same day", "en", {"the", "in", "on"}),
        ("What was the Sochi agreement?", "en", {"the", "what", "was"}),
        ("پوتین از سوچی به مسکو بازگشت", "fa", {"از", "به"}),
        ("این توافق در سوچی امضا شد و از فردا اجرا می‌شود", "fa", {"از", "در", "این", "و"}),
        ("اجتمع الرئيس الروسي في سوتشي مع أردوغان", "ar", {"فی", "مع"}),
        ("ما هو اتفاق سوتشي الذي وقع في سبتمبر؟", "ar", {"فی", "ما", "هو", "الذی"}),
        ("the Sochi deal و تفاصيل في الاتفاق", "ar", {"the", "فی", "و"}),
        ("دیدار Putin and Erdogan در سوچی", "fa", {"and", "در"}),
    ],
)
def test_stopwords_are_removed(text: str, lang: str, absent: set[str]) -> None:
    tokens = analyze(text, lang)
    assert tokens
    assert not set(tokens) & absent, tokens


def test_keep_stopwords_keeps_them() -> None:
    assert "از" in analyze("پوتین از سوچی", "fa", keep_stopwords=True)
    assert "the" in analyze("the Sochi deal", "en", keep_stopwords=True)


@pytest.mark.parametrize(
    ("lang", "members"),
    [
        ("fa", {"از", "به", "در", "با", "برای"}),
        ("ar", {"فی", "من", "علی", "الی"}),
        ("en", {"the", "a", "of", "and"}),
    ],
)
def test_stopword_lists_are_non_empty_frozensets_in_folded_form(
    lang: str, members: set[str]
) -> None:
    words_ = stopwords(lang)
    assert isinstance(words_, frozenset)
    assert len(words_) > 50
    assert members <= words_
    assert all(w == normalize(w) for w in words_)


# --- harakat, accents, English stemming ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lang", "n"),
    [
        ("مُحَمَّدٌ رَسُولُ", "ar", 2),
        ("مُحَمَّدٌ رَسُولُ", "fa", 2),
        ("مُحَمَّدٌ رَسُولُ", "en", 2),
        ("قالَ الرَّئِيسُ", "ar", 2),
        ("مُذاکِرات هسته‌ای", "fa", 2),
        ("Erdoğan قالَ", "ar", 2),
    ],
)
def test_harakat_do_not_split_words(text: str, lang: str, n: int) -> None:
    assert len(words(text)) == n
    assert len(analyze(text, lang)) >= n
    plain = "".join(ch for ch in text if not "\u064b" <= ch <= "\u065f")
    assert set(analyze(text, lang)) == set(analyze(plain, lang))


@pytest.mark.parametrize(
    ("a", "b", "lang"),
    [
        ("discussed", "discussing", "en"),
        ("The leaders discussed Idlib", "leaders discussing idlib", "en"),
        ("agreements", "agreement", "en"),
        ("Erdoğan", "erdogan", "en"),
        ("Erdoğan", "ERDOGAN", "fa"),
        ("Çavuşoğlu met Lavrov", "cavusoglu", "ar"),
        ("دیدار Erdoğan و پوتین", "erdogan", "fa"),
        ("قال Erdoğan إن", "Erdogan", "ar"),
    ],
)
def test_english_stemming_and_latin_accents(a: str, b: str, lang: str) -> None:
    assert shared(a, b, lang)


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("پوتین و اردوغان در سوچی دیدار کردند", "fa"),
        ("كشورهاي ايران", "fa"),
        ("بوتين وأردوغان في سوتشي", "ar"),
        ("وزارة الخارجية الروسية", "ar"),
        ("Erdoğan discussed Idlib in ۲۰۱۸", "en"),
        ("نشست Erdoğan و پوتین ۱۳۹۷", "fa"),
    ],
)
def test_tokens_are_in_normalized_form(text: str, lang: str) -> None:
    tokens = analyze(text, lang)
    assert tokens
    assert all(t and normalize(t) == t for t in tokens), tokens


@pytest.mark.parametrize("text", ["۲۰۱۸", "٢٠١٨", "2018"])
def test_digit_sets_meet(text: str) -> None:
    assert analyze(text, "fa") == analyze("2018", "en") == ["2018"]


# --- Persian stemmer -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inflected", "base"),
    [
        # plural ها / های
        ("کتابها", "کتاب"),
        ("کتابهای", "کتاب"),
        ("کشورهای", "کشور"),
        ("تحریمها", "تحریم"),
        ("کشورهایشان", "کشور"),
        # comparative / superlative
        ("بزرگتر", "بزرگ"),
        ("بزرگترین", "بزرگ"),
        ("مهمترین", "مهم"),
        # verb prefix می / نمی with person endings
        ("میگیرند", "میگیرد"),
        ("نمیگیرد", "میگیرد"),
        ("نمیگیریم", "میگیرد"),
        ("نمیگویند", "میگوید"),
        # past tense and participle
        ("گفتند", "گفت"),
        ("رسیدند", "رسید"),
        ("کرده", "کرد"),
        ("رفتهاند", "رفتند"),
        # indefinite / adjectival ی
        ("تلفنی", "تلفن"),
    ],
)
def test_persian_stemmer_conflates_inflections(inflected: str, base: str) -> None:
    assert stem(inflected) == stem(base)


@pytest.mark.parametrize(
    "word", ["ایران", "میدان", "میلیون", "میزبان", "حیات", "پوتین", "اردوغان", "آب", "گفت"]
)
def test_persian_stemmer_leaves_stems_and_look_alikes(word: str) -> None:
    folded = fold(word)
    assert stem(folded) == folded


@pytest.mark.parametrize(
    "word", ["میده", "کرده", "شده", "تره", "هاها", "میها", "نمیم", "ترین", "هایی", "گفتند"]
)
def test_persian_stem_is_never_shorter_than_three_letters(word: str) -> None:
    assert len(stem(word)) >= 3


fa_letters = st.lists(
    st.one_of(
        st.sampled_from(list("ابپتثجچحخدذرزژسشصضطظعغفقکگلمنوهیآ")),
        st.sampled_from(["می", "نمی", "ها", "های", "تر", "ترین", "ند", "ده", "اند", "ی", "شان"]),
        st.characters(),
    ),
    min_size=1,
    max_size=8,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(fa_letters)
def test_persian_stem_is_total_and_non_empty(word: str) -> None:
    out = stem(word)
    assert isinstance(out, str)
    assert out
    assert len(out) >= min(3, len(word))
    assert out in word  # affixes are only removed, never added


# A lone hamza (ء) has its own xfail test below.
arabic_word = st.text(
    st.characters(min_codepoint=0x0600, max_codepoint=0x06FF, exclude_characters="ء"),
    min_size=1,
)
latin_word = st.text(st.sampled_from(list("ErdoğanSochiÇavuşoğlu2018")), min_size=1)
zwnj_compound = st.lists(arabic_word, min_size=2, max_size=3).map("\u200c".join)
mixed_words = st.lists(
    st.tuples(
        st.one_of(
            arabic_word,
            latin_word,
            zwnj_compound,
            st.sampled_from(["گفت\u200cوگو", "كشورهاي", "في", "می\u200cگیرد", "the"]),
        ),
        st.sampled_from([" ", ". ", "، ", "\n", "؟ ", "\u200c", ""]),
    ),
    max_size=12,
).map(lambda parts: "".join(w + sep for w, sep in parts))


@settings(max_examples=150, deadline=None)
@given(mixed_words, st.sampled_from(["fa", "ar", "en"]))
def test_analyze_is_total_and_tokens_normalized(text: str, lang: str) -> None:
    tokens = analyze(text, lang)
    assert all(t and normalize(t) == t for t in tokens), tokens


@pytest.mark.parametrize(
    ("arabic_letters", "persian_letters"),
    [
        ("۱۰مين سالگرد انقلاب", "۱۰مین سالگرد انقلاب"),
        ("۲۰۱۸ميلادي", "۲۰۱۸میلادی"),
        ("۳كشور اروپايي", "۳کشور اروپایی"),
        ("G20ي", "G20ی"),
    ],
)
def test_words_glued_to_digits_are_folded(arabic_letters: str, persian_letters: str) -> None:
    # Words starting with a digit or Latin letter are folded too ("every token is folded").
    assert analyze(arabic_letters, "fa") == analyze(persian_letters, "fa")


@pytest.mark.parametrize(
    ("text", "lang"),
    [("٢٠١٨ميلادي", "ar"), ("عام ٢٠١٨م", "ar"), ("0ك", "fa"), ("2018ي Sochi", "en")],
)
def test_glued_tokens_are_in_normalized_form(text: str, lang: str) -> None:
    tokens = analyze(text, lang)
    assert tokens
    assert all(normalize(t) == t for t in tokens), tokens


@pytest.mark.parametrize(
    ("suffixed", "bare"),
    [
        ("ترکیه سامانه S-400\u200cها را خرید", "S-400"),
        ("NGO\u200cهای بین\u200cالمللی", "NGO"),
        ("سامانه\u200cهای S-400\u200cهای روسی", "S-400"),
    ],
)
def test_latin_word_with_persian_suffix_meets_bare_word(suffixed: str, bare: str) -> None:
    assert set(analyze(bare, "fa")) <= set(analyze(suffixed, "fa"))


@pytest.mark.parametrize(
    ("suffixed", "bare"),
    [
        ("جنگنده\u200cهای F-35\u200cهای آمریکایی", "F-35"),
        ("خرید F-35\u200cها", "F-35"),
        ("جنگنده\u200cهای MiG-29\u200cها", "MiG-29"),
    ],
)
def test_short_latin_name_with_persian_plural_meets_bare_word(suffixed: str, bare: str) -> None:
    assert set(analyze(bare, "fa")) <= set(analyze(suffixed, "fa"))


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("اجزا ء طرح صلح", "fa"),
        ("ء", "fa"),
        ("Sochi deal گفت ء", "en"),
    ],
)
def test_lone_hamza_gives_no_empty_token(text: str, lang: str) -> None:
    assert "" not in analyze(text, lang)


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("قال الرئيس، إن الاتفاق صامد؛ أليس كذلك؟", "ar"),
        ("پوتین گفت، توافق سوچی پابرجاست؛ آیا چنین است؟", "fa"),
        ("«کاهش تنش» در ادلب، Idlib؟", "fa"),
        ("Putin said, «the deal holds»; did it?", "en"),
    ],
)
def test_arabic_script_punctuation_never_sticks_to_tokens(text: str, lang: str) -> None:
    # ، ؛ ؟ « » sit inside U+0600-06FF or next to it; a token never carries them.
    for token in analyze(text, lang):
        assert not set(token) & set("،؛؟«»,;?"), token
