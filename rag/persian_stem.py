"""A light Persian stemmer written for search (PyStemmer has none, hazm cannot be installed).

It works on folded text (ی, ک, ه) and removes only affixes that are frequent and safe: plural
and comparative suffixes, pronoun clitics, the verbal prefix می/نمی with person endings, and
the participle ه. A stem is never shorter than three letters, so short roots are left alone.
"""

from __future__ import annotations

from functools import lru_cache

_MIN_STEM = 3
# Longest first. "ان"/"ات" plural endings are left out: they end too many stems (ایران, حیات).
_PLURAL = ("هایی", "های", "ها", "یان", "ترین", "تر")
_PLURAL_CLITIC = ("هایشان", "هایمان", "هایتان", "شان", "تان", "مان")
_PERFECT = ("اند", "ایم", "اید")
_VERB_PREFIX = ("نمی", "می")
_VERB_END = ("اند", "ایم", "اید", "ند", "ید", "یم", "ی", "د", "م")
# Nouns that merely start with می.
_NOT_VERBS = frozenset(
    "میدان میلیون میلیارد میز میانه میان میراث میهن میوه میل میزان میزبان میهمان میلادی".split()
)


def _strip_suffix(word: str, suffixes: tuple[str, ...]) -> str:
    for suffix in suffixes:
        if word.endswith(suffix) and len(word) - len(suffix) >= _MIN_STEM:
            return word[: -len(suffix)]
    return word


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """Stem one folded Persian word."""
    if len(word) <= _MIN_STEM:
        return word
    for prefix in _VERB_PREFIX:
        if (
            word.startswith(prefix)
            and len(word) - len(prefix) >= _MIN_STEM
            and not word.startswith(tuple(_NOT_VERBS))
        ):
            # A present-tense verb: drop the prefix and the person ending (میگیرند -> گیر).
            return _strip_suffix(word[len(prefix) :], _VERB_END)
    stemmed = _strip_suffix(word, _PLURAL_CLITIC)
    stemmed = _strip_suffix(stemmed, _PLURAL)
    stemmed = _strip_suffix(stemmed, _PERFECT)
    # Past tense and participle: گفتند -> گفت, رسیدند -> رسید, کرده -> کرد.
    if stemmed.endswith(("دند", "تند")) and len(stemmed) - 2 >= _MIN_STEM:
        return stemmed[:-2]
    if stemmed.endswith(("ده", "ته")) and len(stemmed) - 1 >= _MIN_STEM:
        return stemmed[:-1]
    # Indefinite, adjectival or ezafe ی: ویتامینی -> ویتامین, سالی -> سال; also once a plural
    # ending is gone, so the plural meets its singular (درگیریها -> درگیر, like درگیری).
    plural_gone = stemmed != word and word.endswith(_PLURAL)
    if (stemmed == word or plural_gone) and stemmed.endswith("ی") and not stemmed.endswith("یی"):
        stemmed = _strip_suffix(stemmed, ("ی",))
    return stemmed
