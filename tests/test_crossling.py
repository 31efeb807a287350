"""Cross-lingual retrieval offline: the seed articles answer each other across fa/ar/en, names,
numbers and dates meet across scripts and calendars, and the lexicon is well-formed."""

from __future__ import annotations

import re
import unicodedata
from importlib import resources
from pathlib import Path

import pytest

from rag import crossling
from rag.analysis import analyze
from rag.engine import Engine, answer_to_dict
from rag.retrieval import Filters

# (question, words one of which every cited passage must contain: the topic, in fa/ar/en)
SOCHI = ("sochi", "سوچی", "سوتشي", "سوچي")
PHONE = ("phone", "call", "تلفن", "تماس", "هاتف", "اتصال")
IDLIB = ("idlib", "ادلب", "إدلب")
SEED_QUESTIONS = [
    ("en", "What was agreed in Sochi about Idlib?", SOCHI),
    ("fa", "در توافق سوچی درباره ادلب چه توافق شد؟", SOCHI),
    ("ar", "ما الذي تم الاتفاق عليه في سوتشي بشأن إدلب؟", SOCHI),
    ("en", "What did Putin and Erdogan discuss in their phone call?", PHONE),
    ("fa", "پوتین و اردوغان در تماس تلفنی درباره چه گفت‌وگو کردند؟", PHONE),
    ("ar", "ماذا بحث بوتين وأردوغان في الاتصال الهاتفي؟", PHONE),
    ("en", "How did the fighting in Idlib escalate?", IDLIB),
    ("fa", "درگیری‌ها و حملات در ادلب", IDLIB),
    ("ar", "التصعيد والهجوم في إدلب", IDLIB),
]


@pytest.mark.parametrize(("lang", "question", "topic"), SEED_QUESTIONS)
def test_seed_articles_answer_each_other(
    engine: Engine, lang: str, question: str, topic: tuple[str, ...]
) -> None:
    answer = engine.ask(question)
    assert not answer.abstained, answer.answer
    assert answer.question_lang == lang
    cited_langs = {c.lang for c in answer.citations}
    assert len(cited_langs) >= 2, (question, cited_langs, answer.answer)
    for citation in answer.citations:
        passage = engine.reader.doc(citation.doc_id)[1][
            citation.passage_start : citation.passage_end
        ].lower()
        assert any(word in passage for word in topic), (question, citation.quote)


def test_english_question_finds_persian_and_arabic_passages(engine: Engine) -> None:
    """Restricted to the other languages, the question still finds the topic, and says why."""
    hits = engine.search(
        "What did Erdogan ask Putin about Idlib?", k=4, filters=Filters(("fa", "ar"))
    )
    assert {h.chunk.lang for h in hits} == {"fa", "ar"}
    top = hits[0]
    hows = {how for _, how, _ in top.matched}
    assert "name" in hows, top.matched
    words = {q.lower() for q, how, _ in top.matched if how == "name"}
    assert {"erdogan", "putin", "idlib"} & words


def test_json_passages_say_why_they_matched(engine: Engine) -> None:
    data = answer_to_dict(engine.ask("اتفاق سوتشي بين روسيا وتركيا"))
    en = [p for p in data["passages"] if p["lang"] == "en"]
    assert en, [p["lang"] for p in data["passages"]]
    via = {m["via"] for p in en for m in p["matched"]}
    assert via & {"name", "glossary"}
    for p in data["passages"]:
        assert "xling_rank" in p
        for m in p["matched"]:
            assert set(m) == {"query", "via", "term"}
            assert m["via"] in {"word", "glossary", "name", "number", "date"}


def _in_sentence(text: str, lang: str) -> str:
    """English words after a first word: a capital first in a sentence says nothing about a
    name, so keys are made for capitalized words inside it."""
    return f"Reports: {text}" if lang == "en" else text


def test_sentence_initial_capital_is_not_a_name() -> None:
    keys = {t for t in crossling.text_tokens("Moreover, Officials met.", "en") if "~k" in t}
    assert not {"~kmrfr", "~kmr"} & keys  # "Moreover" is not a name
    assert {t for t in crossling.text_tokens("Putin met officials.", "en")} & {"~kbtn"}


@pytest.mark.parametrize(
    ("a", "lang_a", "b", "lang_b", "kind"),
    [
        ("Putin", "en", "پوتین", "fa", crossling.NAME),
        ("Putin", "en", "بوتين", "ar", crossling.NAME),
        ("Erdoğan", "en", "أردوغان", "ar", crossling.NAME),
        ("Idlib", "en", "إدلب", "ar", crossling.NAME),
        ("Kremlin", "en", "الكرملين", "ar", crossling.NAME),
        ("Sochi", "en", "سوتشي", "ar", crossling.NAME),
        ("Lavrov", "en", "لاوروف", "fa", crossling.NAME),
        ("سوچی", "fa", "سوتشي", "ar", crossling.NAME),
        ("وبوتين", "ar", "پوتین", "fa", crossling.NAME),  # conjunction attached
        # names no list holds: the key is made from the letters
        ("Zelensky", "en", "زلنسکی", "fa", crossling.NAME),
        ("Tokayev", "en", "توكاييف", "ar", crossling.NAME),
        ("Panthers", "en", "البانثرز", "ar", crossling.NAME),  # plural s written ز
        ("Broncos", "en", "برونكو", "ar", crossling.NAME),  # plural s dropped
        ("2018", "en", "۲۰۱۸", "fa", crossling.NUMBER),
        ("2018", "en", "٢٠١٨", "ar", crossling.NUMBER),
        ("1 March 2020", "en", "۱۱ اسفند ۱۳۹۸", "fa", crossling.DATE),  # Gregorian, Solar Hijri
        ("in 2020", "en", "در سال ۱۳۹۸", "fa", crossling.NUMBER),  # a Solar Hijri year's years
    ],
)
def test_cross_script_tokens_meet(a: str, lang_a: str, b: str, lang_b: str, kind: str) -> None:
    ta = {t for t in crossling.text_tokens(_in_sentence(a, lang_a), lang_a) if t.startswith(kind)}
    tb = {t for t in crossling.text_tokens(_in_sentence(b, lang_b), lang_b) if t.startswith(kind)}
    assert ta & tb, (ta, tb)


@pytest.mark.parametrize(
    ("a", "lang_a", "b", "lang_b"),
    [
        ("Putin", "en", "Paris", "en"),
        ("پوتین", "fa", "تهران", "fa"),
        ("Idlib", "en", "ماكرون", "ar"),
        ("Kremlin", "en", "شويغو", "ar"),
    ],
)
def test_different_names_get_different_keys(a: str, lang_a: str, b: str, lang_b: str) -> None:
    ka = {t for t in crossling.text_tokens(_in_sentence(a, lang_a), lang_a) if t.startswith("~k")}
    kb = {t for t in crossling.text_tokens(_in_sentence(b, lang_b), lang_b) if t.startswith("~k")}
    assert ka and kb and not ka & kb, (ka, kb)


@pytest.mark.parametrize(
    ("en", "fa", "ar"),
    [
        ("agreement", "توافق", "اتفاق"),
        ("ceasefire", "آتش‌بس", "وقف إطلاق النار"),
        ("president", "رئیس‌جمهور", "الرئيس"),
        ("soldiers", "سربازان", "جنود"),
        ("Germany", "آلمان", "ألمانيا"),
    ],
)
def test_lexicon_concepts_meet(en: str, fa: str, ar: str) -> None:
    def concepts(text: str, lang: str) -> set[str]:
        return {t for t in crossling.text_tokens(text, lang) if t.startswith(crossling.CONCEPT)}

    assert concepts(en, "en") & concepts(fa, "fa") & concepts(ar, "ar")


def test_query_units_keep_the_word_and_its_alternatives() -> None:
    units = crossling.query_units("What did Erdogan say about the agreement in 2018?", "en")
    by_word = {u.word: u for u in units}
    assert by_word["Erdogan"].alternatives and by_word["2018"].alternatives
    assert any(t.startswith(crossling.CONCEPT) for t in by_word["agreement"].alternatives)
    only_names = crossling.query_units("the agreement with Erdogan", "en", parts=("names",))
    assert all(not t.startswith(crossling.CONCEPT) for u in only_names for t in u.alternatives)


def test_arabic_diacritics_and_proclitics_stay_in_the_word() -> None:
    """سُجلت is one word (a damma inside does not split it), and لمباراة ("for the match")
    meets the concept of مباراة."""
    words = [u.word for u in crossling.query_units("كم هدفاً سُجلت في المباراة؟", "ar")]
    assert "سُجلت" in words and "جلت" not in words, words
    plain = {u.word: u for u in crossling.query_units("نتيجة مباراة", "ar")}["مباراة"]
    attached = {u.word: u for u in crossling.query_units("نتيجة لمباراة", "ar")}["لمباراة"]
    concepts = {t for t in plain.alternatives if t.startswith(crossling.CONCEPT)}
    assert concepts and concepts <= attached.alternatives, (plain, attached)


@pytest.mark.parametrize(
    ("question", "word", "has_keys"),
    [
        ("ما هو موسم الحصاد؟", "موسم", False),  # a known word as written: not a name
        ("كم لاعباً في الفريق؟", "الفريق", False),
        ("ما موقف بوتين؟", "بوتين", True),  # stemmed to look like a word: keys kept
        ("ماذا قال نيوتن؟", "نيوتن", True),  # unknown: a name
        ("در مورد پوتین چه گفت؟", "پوتین", True),
    ],
)
def test_question_words_known_as_written_get_no_name_keys(
    question: str, word: str, has_keys: bool
) -> None:
    lang = "fa" if "پ" in question else "ar"
    unit = {u.word: u for u in crossling.query_units(question, lang)}[word]
    keys = {t for t in unit.alternatives if t.startswith(crossling.NAME)}
    assert bool(keys) == has_keys, unit


def _lexicon_rows() -> list[tuple[str, int, list[str]]]:
    folder = resources.files("rag").joinpath("resources/lexicon")
    rows = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".tsv"):
            continue
        for lineno, line in enumerate(entry.read_text("utf-8").splitlines(), 1):
            if line.strip() and not line.startswith("#"):
                rows.append((entry.name, lineno, line.split("\t")))
    return rows


def test_lexicon_is_well_formed_and_large() -> None:
    rows = _lexicon_rows()
    assert len(rows) >= 3000
    problems = []
    for name, lineno, cells in rows:
        where = f"{name}:{lineno}"
        if len(cells) != 4 or not all(c.strip() for c in cells):
            problems.append(f"{where}: needs 4 non-empty tab-separated cells")
            continue
        _, en, fa, ar = cells
        if not re.fullmatch(r"[a-z0-9 '\-|.]+", en.lower()):
            problems.append(f"{where}: English cell has non-Latin text: {en}")
        if re.search("[يكة]|[A-Za-z]", fa):
            problems.append(f"{where}: Persian cell has Arabic ي/ك/ة or Latin: {fa}")
        if re.search("[پچژگیک]|[A-Za-z]", ar):
            problems.append(f"{where}: Arabic cell has Persian letters or Latin: {ar}")
        if any(unicodedata.category(ch) == "Mn" and ch != "\u200c" for ch in fa + ar):
            problems.append(f"{where}: diacritics")
    assert not problems, problems[:20]


def test_lexicon_header_states_coverage_and_checking() -> None:
    folder = resources.files("rag").joinpath("resources/lexicon")
    for entry in folder.iterdir():
        if entry.name.endswith(".tsv"):
            head = entry.read_text("utf-8")[:3000].lower()
            assert "coverage" in head and "checked" in head, entry.name


def test_lexicon_loads_every_language() -> None:
    lex = crossling.lexicon()
    for lang in ("en", "fa", "ar"):
        assert len(lex.words[lang]) > 2000, lang
    assert crossling.version().endswith(lex.digest) and len(lex.digest) == 12
    # Every variant is stored as search analyzes it.
    assert lex.concepts("en", analyze("agreements", "en")[0])


def test_lexicon_cache_round_trip_and_damage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The analyzed lexicon is cached on disk; the cached form equals the built one, and a
    damaged cache file is rebuilt, not trusted."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    built = crossling._build()
    path = crossling._cache_path()
    assert path is not None and not path.exists()
    crossling._write_cache(path, built)
    cached = crossling._read_cache(path)
    assert cached is not None
    assert cached.words == built.words and cached.phrases == built.phrases
    assert cached.labels == built.labels and cached.digest == built.digest
    path.write_text('{"words": [', "utf-8")
    assert crossling._read_cache(path) is None
    crossling.lexicon.cache_clear()
    try:
        assert crossling.lexicon().words == built.words  # rebuilt and re-cached
        assert crossling._read_cache(path) is not None
    finally:
        crossling.lexicon.cache_clear()


def test_length_prior_keeps_long_passages_from_collecting_chance_matches(
    tmp_path: Path,
) -> None:
    """Two English passages match a Persian question's names; most of the long one's words
    have no stand-ins, so BM25 over stand-ins sees it as shorter than it is. The length prior
    moves the short, focused passage further ahead."""
    from dataclasses import replace

    from rag.config import Settings
    from rag.indexing import index_paths
    from rag.retrieval import Searcher

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "short.txt").write_text("Putin met Erdogan in Sochi.", "utf-8")
    filler = " ".join(["the weather was mild and people walked slowly along the quiet river"] * 20)
    (folder / "long.txt").write_text(f"{filler}. Putin met Erdogan in Sochi. {filler}.", "utf-8")
    settings = Settings().with_index(tmp_path / "index")
    assert index_paths([folder], settings).ok
    with Engine(settings) as engine:
        scores = {}
        for power in (0.0, 0.2):
            tuned = replace(
                settings, retrieval=replace(settings.retrieval, xling_length_prior=power)
            )
            searcher = Searcher(engine.reader, tuned)
            ranked = searcher.xling(searcher.query("پوتین اردوغان سوچی", "fa"), None, 5)
            scores[power] = {engine.reader.chunk(i).doc_id: s for i, s in ranked}
    ratio = {p: scores[p]["short.txt"] / scores[p]["long.txt"] for p in scores}
    assert ratio[0.2] > 1.15 * ratio[0.0], ratio
