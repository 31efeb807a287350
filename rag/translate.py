"""Connected mode: the question translated by the model into each other corpus language.

The translations only add retrieval evidence (``Searcher.search(translations=...)``); the
offline legs stay, so a weak or failing model cannot take away what offline retrieval finds.
A failed or unusable translation is reported as a warning beside the answer, never hidden.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from rag import langs, prompts
from rag.errors import ModelError
from rag.llm import ChatModel

LANG_NAMES = {"fa": "Persian (fa)", "ar": "Arabic (ar)", "en": "English (en)"}
_JSON = re.compile(r"\{.*\}", re.DOTALL)
_MAX_CHARS = 2000  # a translation longer than this is not a translation of a question


@dataclass(frozen=True)
class Translations:
    """Translations by language, and what went wrong (empty when nothing did)."""

    texts: dict[str, str]
    warnings: tuple[str, ...] = ()


class Translator:
    def __init__(self, model: ChatModel) -> None:
        self.model = model
        self.prompt = prompts.load("translate_question")

    def translate(self, question: str, lang: str, targets: Iterable[str]) -> Translations:
        wanted = [t for t in dict.fromkeys(targets) if t != lang and t in LANG_NAMES]
        if not wanted:
            return Translations({})
        system, user = self.prompt.render(
            question=question,
            question_lang=LANG_NAMES.get(lang, lang),
            targets=", ".join(LANG_NAMES[t] for t in wanted),
        )
        try:
            reply = self.model.complete(system, user)
        except ModelError as err:
            return Translations({}, (f"question not translated: {err}",))
        return parse_reply(reply, wanted)


def parse_reply(reply: str, wanted: list[str]) -> Translations:
    """The translations in a model's JSON reply; languages it got wrong are warned about."""
    match = _JSON.search(reply)
    try:
        data = json.loads(match.group()) if match else None
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        return Translations({}, (f"the model's translation was not JSON: {reply[:120]!r}",))
    texts: dict[str, str] = {}
    problems: list[str] = []
    for target in wanted:
        value = data.get(target)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"no {LANG_NAMES[target]} translation in the model's reply")
        elif len(value) > _MAX_CHARS:
            problems.append(f"the {LANG_NAMES[target]} translation was too long; ignored")
        elif langs.detect(value) != target:
            problems.append(
                f"the {LANG_NAMES[target]} translation is not in that language; ignored"
            )
        else:
            texts[target] = value.strip()
    return Translations(texts, tuple(problems))
