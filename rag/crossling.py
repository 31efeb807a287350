"""Cross-lingual evidence with no model: tokens that mean the same in Persian, Arabic and English.

Every word of a text (a passage at ingest, a question at query time) may stand for
language-independent tokens, which a second BM25 index (the "xling" leg) matches:

- ``~c<concept>``: a concept of the team's trilingual lexicon (``rag/resources/lexicon``), found
  by the word's analyzed form in its language, or a phrase of two or three words;
- ``~k<key>``: a cross-script phonetic key of a name (``rag.translit``): Putin, پوتین and بوتين
  share one. Keys are made for Arabic-script words (Persian and Arabic have no capitals to tell
  a name, and their shared vocabulary meets through the same keys) and for capitalized Latin
  words; in questions for every Latin word the lexicon does not know;
- ``~n<number>`` for numbers in any digit set (Solar Hijri years in Persian text also stand for
  the Gregorian years they overlap), and ``~d<ISO date>`` for full dates in any calendar.

A question becomes "units": one per content word, each with the word's own analyzed token and
the cross-lingual tokens that may stand for it, so a sentence supports the word when it holds
either. Nothing here is learnt from evaluation data.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from rag import dates
from rag.analysis import ANALYZER_VERSION, analyze, stopwords
from rag.normalize import clean, fold
from rag.translit import name_keys

CONCEPT, NAME, NUMBER, DATE = "~c", "~k", "~n", "~d"
ALGORITHM = "6"  # bump when the tokens made from the same text change
PARTS = ("concepts", "names", "numbers")
_PREFIX_PART = {CONCEPT: "concepts", NAME: "names", NUMBER: "numbers", DATE: "numbers"}
# Letters and digits, with Arabic diacritics and tatweel inside a word (سُجلت is one word).
_WORD = re.compile(r"[^\W_](?:[^\W_]|[\u064b-\u065f\u0670\u0640])*(?:\u200c[^\W_]+)*")
_ARABIC = re.compile(r"[\u0600-\u06ff]")
_CLITIC = re.compile(r"^(?:لل|[لبكف])(?=...)")  # Arabic proclitics before a known word
_ARTICLE_WORD = re.compile(r"^(?:[وفبكل]?ال|لل)(?=...)")
_LATIN_UPPER = re.compile(r"[A-Z\u00c0-\u00de]")
_MAX_PHRASE = 3


@dataclass(frozen=True)
class Unit:
    """One content word of a question and everything that may stand for it in a passage."""

    word: str
    token: str
    alternatives: frozenset[str]


@dataclass
class Lexicon:
    """Analyzed word forms (per language) and phrases -> concept ids."""

    # Concepts per token as sorted tuples: tokens come out in the same order in every
    # process (a frozenset's order follows the per-process string hash seed).
    words: dict[str, dict[str, tuple[str, ...]]]
    phrases: dict[str, dict[tuple[str, ...], tuple[str, ...]]]
    labels: dict[str, dict[str, str]]  # concept -> {lang: first variant}
    digest: str

    def concepts(self, lang: str, token: str) -> tuple[str, ...]:
        return self.words.get(lang, {}).get(token, ())


def _files() -> list[tuple[str, str]]:
    folder = resources.files("rag").joinpath("resources/lexicon")
    if not folder.is_dir():
        return []
    out = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".tsv"):
            out.append((entry.name, entry.read_text("utf-8")))
    return out


def _concept_id(en: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", en.lower()).strip("_")


@lru_cache(maxsize=1)
def _digest() -> str:
    """Hash of the lexicon files (cheap: no analysis)."""
    digest = hashlib.sha256()
    for name, text in _files():
        digest.update(name.encode() + b"\0" + text.encode())
    return digest.hexdigest()[:12]


def _cache_path() -> Path | None:
    """Where the analyzed lexicon is kept between processes (analyzing it takes a second or
    two; loading the cached form a few milliseconds). None when there is no usable folder."""
    base = os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache")
    try:
        folder = Path(base) / "manba"
    except (TypeError, RuntimeError):
        return None
    return folder / f"lexicon-{ALGORITHM}-{ANALYZER_VERSION}-{_digest()}.json"


def _read_cache(path: Path | None) -> Lexicon | None:
    if path is None or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text("utf-8"))
        return Lexicon(
            words={
                lang: {t: tuple(sorted(c)) for t, c in m.items()}
                for lang, m in data["words"].items()
            },
            phrases={
                lang: {tuple(t.split(" ")): tuple(sorted(c)) for t, c in m.items()}
                for lang, m in data["phrases"].items()
            },
            labels=data["labels"],
            digest=_digest(),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # a damaged cache is rebuilt


def _write_cache(path: Path | None, lex: Lexicon) -> None:
    if path is None:
        return
    data = {
        "words": {lang: {t: sorted(c) for t, c in m.items()} for lang, m in lex.words.items()},
        "phrases": {
            lang: {" ".join(t): sorted(c) for t, c in m.items()} for lang, m in lex.phrases.items()
        },
        "labels": lex.labels,
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
        tmp.replace(path)
    except OSError:
        return  # read-only home: the lexicon is analyzed again next time, nothing is lost


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    """The lexicon, loaded once per process: every variant analyzed as search analyzes text
    (cached on disk by lexicon digest, algorithm and analyzer version)."""
    path = _cache_path()
    cached = _read_cache(path)
    if cached is not None:
        return cached
    lex = _build()
    _write_cache(path, lex)
    return lex


def _build() -> Lexicon:
    words: dict[str, dict[str, set[str]]] = {"en": {}, "fa": {}, "ar": {}}
    phrases: dict[str, dict[tuple[str, ...], set[str]]] = {"en": {}, "fa": {}, "ar": {}}
    labels: dict[str, dict[str, str]] = {}
    for _, text in _files():
        for line in text.splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            cells = line.split("\t")
            if len(cells) != 4:
                continue  # the lexicon's own test reports malformed lines
            _, en, fa, ar = cells
            variants = {
                lang: [v.strip() for v in cell.split("|") if v.strip()]
                for lang, cell in (("en", en), ("fa", fa), ("ar", ar))
            }
            if not variants["en"]:
                continue
            concept = _concept_id(variants["en"][0])
            if not concept:
                continue
            labels.setdefault(concept, {lang: vs[0] for lang, vs in variants.items() if vs})
            for lang, vs in variants.items():
                for variant in vs:
                    if _WORD.fullmatch(variant.strip()):  # one word (not "anti-government")
                        for token in _word_forms(variant, lang):
                            words[lang].setdefault(token, set()).add(concept)
                        continue
                    tokens = tuple(analyze(variant, lang))
                    if len(tokens) == 1:
                        words[lang].setdefault(tokens[0], set()).add(concept)
                    elif 1 < len(tokens) <= _MAX_PHRASE:
                        phrases[lang].setdefault(tokens, set()).add(concept)
    return Lexicon(
        words={lang: {t: tuple(sorted(c)) for t, c in m.items()} for lang, m in words.items()},
        phrases={lang: {t: tuple(sorted(c)) for t, c in m.items()} for lang, m in phrases.items()},
        labels=labels,
        digest=_digest(),
    )


def _word_forms(word: str, lang: str) -> set[str]:
    """Every search token a one-word lexicon entry may take in text. The Arabic analyzer may
    give a bare word two tokens (Snowball reads a first و/ب/ف/ل as a prefix: برلمان) and the
    word with the article another (البرلمان): entries are written bare, text has both."""
    analyzed = analyze(word, lang)
    # A ZWNJ compound (نخست‌وزیر) is indexed joined and by its parts; only the joined form
    # stands for the concept (its part وزیر is another one).
    tokens = set(analyzed[:1] if "\u200c" in word else analyzed)
    if lang == "ar" and not word.startswith("ال"):
        tokens |= set(analyze("ال" + word, lang))
    return tokens


def version() -> str:
    """Changes whenever the lexicon or the way tokens are made does: stored with the index,
    which is rebuilt on change."""
    return f"{ALGORITHM}.{_digest()}"


def _lookup_langs(word: str, lang: str) -> tuple[str, ...]:
    """Languages whose lexicon a word is looked up in: Arabic-script words in both Persian and
    Arabic (they share much vocabulary), Latin words in English."""
    if _ARABIC.search(word):
        return (lang, "ar" if lang == "fa" else "fa") if lang in ("fa", "ar") else ("fa", "ar")
    return ("en",)


@lru_cache(maxsize=200_000)
def _word(
    word: str, lang: str, capitalized: bool, query: bool, initial: bool = False
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(analyzed tokens, cross-lingual tokens) of one word as written.

    Latin words get name keys when capitalized (not merely first in the sentence, unless the
    lexicon does not know them) and, in questions, when the lexicon does not know them."""
    cleaned = clean(word)
    if not cleaned:
        return (), ()
    if cleaned.isdigit():
        return (), _number_tokens(cleaned, lang)
    lex = lexicon()
    arabic_script = bool(_ARABIC.search(cleaned))
    word_lang = (
        lang if arabic_script == (lang in ("fa", "ar")) else ("ar" if arabic_script else "en")
    )
    tokens = tuple(analyze(word, word_lang))
    if not tokens:
        return (), ()  # a stopword
    out: list[str] = []
    compound = "\u200c" in word  # joined form first, then its parts: the joined one decides
    for lookup_lang in _lookup_langs(cleaned, word_lang):
        found = tokens if lookup_lang == word_lang else tuple(analyze(word, lookup_lang))
        for token in found[:1] if compound else found:
            out.extend(CONCEPT + c for c in lex.concepts(lookup_lang, token))
    if arabic_script and not out:
        # Arabic attaches ل ب ك ف to the next word (لمباراة "for the match"); the stemmer
        # leaves them, the lexicon is looked up without them.
        bare = _CLITIC.sub("", cleaned)
        if bare != cleaned:
            out.extend(CONCEPT + c for t in analyze(bare, "ar") for c in lex.concepts("ar", t))
    if arabic_script:
        # Persian and Arabic have no capitals to tell a name: every word gets keys, also words
        # the lexicon knows, since stemming can make a name look like a word (بوتين -> بوت,
        # the stem of بوتان "Bhutan"; روحانی -> روحان) and the key is then what finds it.
        if fold(cleaned) not in stopwords("fa") | stopwords("ar"):
            known = query and bool(out)
            article = _ARTICLE_WORD.match(cleaned) is not None
            if known and _exact(cleaned, tokens):
                # In a question, a word the lexicon knows as written (no stemming between
                # the two) is that word, not a name that looks like it (موسم "season").
                keys: tuple[str, ...] = ()
            else:
                # A known word found through its stem: only its strict keys of three or more
                # consonants stand for it, so a common word's short loose key (نقطة -> nkt)
                # does not find every capitalized name that shares it. A question word with
                # the article (more often a noun than a name: الداخل) needs three too.
                keys = name_keys(
                    cleaned,
                    strict_only=known,
                    min_len=3 if known or (query and article) else 2,
                    loose_min_len=3 if query else 2,
                )
            out.extend(NAME + k for k in keys)
    elif (capitalized and not (initial and out)) or (query and not out):
        out.extend(NAME + k for k in name_keys(cleaned))
    return tokens, tuple(dict.fromkeys(out))


def _exact(cleaned: str, tokens: tuple[str, ...]) -> bool:
    """Whether the analyzer kept the word as written, but for its article or و."""
    bare = _ARTICLE_WORD.sub("", cleaned)
    return any(fold(t) in (fold(cleaned), fold(bare)) for t in tokens)


def _number_tokens(digits: str, lang: str) -> tuple[str, ...]:
    value = digits.lstrip("0") or "0"
    out = [NUMBER + value]
    if lang == "fa" and len(value) == 4 and 1300 <= int(value) <= 1499:
        year = int(value)
        out += [NUMBER + str(year + 621), NUMBER + str(year + 622)]
    return tuple(out)


def _phrase_tokens(analyzed: list[str], lang: str) -> list[str]:
    table = lexicon().phrases.get(lang, {})
    if not table:
        return []
    out: list[str] = []
    for size in range(2, _MAX_PHRASE + 1):
        for i in range(len(analyzed) - size + 1):
            found = table.get(tuple(analyzed[i : i + size]))
            if found:
                out.extend(CONCEPT + c for c in found)
    return out


def _words(text: str) -> Iterable[tuple[str, bool, bool]]:
    """The words of ``text`` with whether each starts with a capital letter and whether it is
    the first word (where a capital tells nothing: "However", "Officials")."""
    for n, match in enumerate(_WORD.finditer(text)):
        word = match.group()
        yield word, bool(_LATIN_UPPER.match(word)), n == 0


def text_tokens(text: str, lang: str) -> list[str]:
    """The cross-lingual tokens of a passage or sentence (repeats kept: BM25 counts them)."""
    out: list[str] = []
    analyzed: list[str] = []
    for word, capitalized, initial in _words(text):
        tokens, xtokens = _word(word, lang, capitalized, False, initial)
        out.extend(xtokens)
        analyzed.extend(tokens)
    out.extend(_phrase_tokens(analyzed, lang))
    out.extend(DATE + d.isoformat() for d in dates.dates_in(text))
    return out


def query_units(text: str, lang: str, parts: Iterable[str] = PARTS) -> list[Unit]:
    """The question's content words, each with its analyzed token and cross-lingual tokens.

    ``parts`` limits which kinds of evidence are used (for measuring what each contributes).
    """
    keep = set(parts)
    units: list[Unit] = []
    analyzed: list[str] = []
    for word, capitalized, initial in _words(text):
        tokens, xtokens = _word(word, lang, capitalized, True, initial)
        alternatives = frozenset(t for t in xtokens if _PREFIX_PART[t[:2]] in keep)
        if not tokens and not alternatives:
            continue
        analyzed.extend(tokens)
        units.append(Unit(word, tokens[0] if tokens else "", alternatives))
    if "concepts" in keep:
        phrase = frozenset(_phrase_tokens(analyzed, lang))
        if phrase:
            units.append(Unit(" ".join(analyzed), "", phrase))
    if "numbers" in keep:
        for d in dates.dates_in(text):
            units.append(Unit(d.isoformat(), "", frozenset({DATE + d.isoformat()})))
    return units


def label(token: str, lang: str = "en") -> str:
    """A readable name for a cross-lingual token: the concept's word, or the token itself."""
    if token.startswith(CONCEPT):
        labels = lexicon().labels.get(token[2:], {})
        return labels.get(lang) or labels.get("en") or token[2:]
    return token[2:]
