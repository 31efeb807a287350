"""One loaded index and the two things users do with it: search and ask."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, replace
from typing import Any

import numpy as np

from rag import crossling, generate, langs, prompts
from rag.answer import extractive_answer, no_answer_text
from rag.config import Settings
from rag.errors import EmptyQuestionError, ManbaError, ModelError
from rag.llm import ChatModel
from rag.retrieval import Filters, Searcher
from rag.store import IndexReader
from rag.translate import Translations, Translator
from rag.types import Answer, Hit

# The longest question asked: a question is a sentence or a short paragraph; a pasted article
# is not one, costs a second of analysis per 100,000 characters and would crowd the sources out
# of a connected model's prompt.
MAX_QUESTION_CHARS = 2000
# C0 and C1 control characters (a terminal escape, NUL, BEL): read as a space.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class QuestionTooLongError(ManbaError):
    """The question is longer than ``MAX_QUESTION_CHARS``."""


def check_question(question: str) -> str:
    """The question as it is searched and answered, or a ``ManbaError`` that says what to do.

    Control characters become spaces and unpaired surrogates (bytes of a command line that
    were not UTF-8) the replacement character; an empty question, or one longer than
    ``MAX_QUESTION_CHARS``, is refused with a message (nothing is cut silently).
    """
    text = _SURROGATE.sub("\ufffd", _CONTROL.sub(" ", question or ""))
    if not text.strip():
        raise EmptyQuestionError("the question is empty; type a question")
    if len(text) > MAX_QUESTION_CHARS:
        raise QuestionTooLongError(
            f"the question is {len(text):,} characters long; the limit is "
            f"{MAX_QUESTION_CHARS:,}: ask about one thing at a time, in a sentence or two"
        )
    return text


class Engine:
    """Load an index once; answer many questions (thread-safe for reads)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.reader = IndexReader(settings)
        self.searcher = Searcher(self.reader, settings)
        # Loaded now, not in the first question: the language model and the lexicon.
        langs.load()
        crossling.lexicon()
        self._index_langs = sorted(str(x) for x in np.unique(self.reader.langs))
        self.translator: Translator | None = None
        self.model: ChatModel | None = None
        if settings.llm.connected:
            self.model = ChatModel(settings.llm)
            if settings.llm.translate:
                self.translator = Translator(self.model)
        self._translated: dict[str, Translations] = {}  # recent questions: one model call each

    @property
    def writes_answers(self) -> bool:
        return self.model is not None and self.settings.llm.answers

    @property
    def mode_label(self) -> str:
        parts = []
        if self.writes_answers and self.model is not None:
            parts.append(f"answers written by {self.model.label}")
        if self.translator is not None:
            parts.append(f"questions translated by {self.translator.model.label}")
        embed = self.reader.embed_settings
        if embed.is_model:
            parts.append(f"{embed.model} embeddings")
        if not parts:
            return "offline (extractive)"
        return ("" if self.writes_answers else "offline answers, ") + ", ".join(parts)

    def translate(self, question: str) -> Translations:
        """Connected mode: the question in the index's other languages (empty offline)."""
        if self.translator is None or not question.strip():
            return Translations({})
        cached = self._translated.get(question)
        if cached is not None:
            return cached
        lang = langs.detect(question)
        out = self.translator.translate(question, lang, self._index_langs)
        if not out.warnings:  # a failed call is tried again next time
            if len(self._translated) >= 256:
                self._translated.pop(next(iter(self._translated)))
            self._translated[question] = out
        return out

    def tokens_used(self) -> int:
        """Model tokens spent so far (prompt and completion; 0 offline)."""
        if self.model is None:
            return 0
        return sum(self.model.usage.values())

    def search(
        self,
        text: str,
        k: int | None = None,
        filters: Filters | None = None,
        mode: str | None = None,
        rerank: bool = True,
    ) -> list[Hit]:
        text = check_question(text)
        translated = self.translate(text)
        return self.searcher.search(
            text, k, filters, mode, rerank=rerank, translations=translated.texts
        )[1]

    def ask(
        self,
        question: str,
        k: int | None = None,
        filters: Filters | None = None,
        *,
        on_text: Callable[[str], None] | None = None,
        answer_lang: str | None = None,
        history: list[tuple[str, str]] | None = None,
    ) -> Answer:
        """Answer ``question``: written by the model when one is connected (``on_text`` gets
        its reply as it streams in), else extractive. A model that fails gives way to the
        extractive answer, with a warning that says so. ``history`` (earlier questions and
        answers of the conversation): a connected model first rewrites a follow-up question
        into a standalone one, which is what is searched and answered."""
        asked = question = check_question(question)
        warnings: tuple[str, ...] = ()
        if history and self.model is not None:
            try:
                question = self.standalone(question, history)
            except ModelError as err:
                warnings += (f"follow-up question not rewritten ({err})",)
        translated = self.translate(question)
        query, hits = self.searcher.search(question, k, filters, translations=translated.texts)
        warnings += translated.warnings + tuple(query.warnings)
        answer = None
        if self.writes_answers and hits:
            try:
                answer = self._written(question, query.lang, hits, on_text, answer_lang)
            except ModelError as err:
                warnings += (f"{err}; this is the offline extractive answer instead",)
        if answer is None:
            answer = extractive_answer(question, query, hits, self.searcher, self.settings.answer)
        answer = replace(
            answer,
            question=asked,
            standalone=question if question != asked else "",
            translations=tuple(sorted(translated.texts.items())),
            warnings=tuple(dict.fromkeys(warnings)),
        )
        want = k or self.settings.retrieval.k
        if answer.abstained and len(hits) < want:
            # Few or no matches: fill the list with the nearest passages by embedding, shown
            # as closest passages, not as evidence.
            have = {h.chunk.chunk_id for h in hits}
            extra = [
                h
                for h in self.searcher.closest(query, want, filters)
                if h.chunk.chunk_id not in have
            ]
            answer = replace(answer, hits=tuple(hits) + tuple(extra[: want - len(hits)]))
        return answer

    def _written(
        self,
        question: str,
        lang: str,
        hits: list[Hit],
        on_text: Callable[[str], None] | None,
        answer_lang: str | None,
    ) -> Answer:
        assert self.model is not None
        llm = self.settings.llm
        out_lang = answer_lang or llm.answer_lang or lang
        doc_text = self._doc_text
        budget = llm.context_tokens - llm.answer_tokens - 600  # the prompt's own words
        sources = generate.pack(hits, doc_text, budget, self.settings.chunk.encoding)
        system, user = generate.messages(question, out_lang, sources)
        options = {"max_tokens": llm.answer_tokens, "temperature": llm.temperature}
        if on_text is None:
            reply = self.model.complete(system, user, **options)
        else:
            pieces = []
            for piece in self.model.stream(system, user, **options):
                pieces.append(piece)
                on_text(piece)
            reply = "".join(pieces)
        written = generate.check(reply, sources, out_lang, doc_text)
        label = self.model.label
        if written.abstained:
            return Answer(
                question, lang, no_answer_text(out_lang), True, (), tuple(hits), generated_by=label
            )
        if not written.citations:
            raise ModelError(f"the model {label} cited none of the sources it was given")
        return Answer(
            question,
            lang,
            written.text,
            False,
            written.citations,
            tuple(hits),
            generated_by=label,
            unsupported=written.unsupported,
            invented_citations=written.invented,
        )

    def standalone(self, question: str, history: list[tuple[str, str]]) -> str:
        """A follow-up question rewritten by the model to stand alone (connected mode)."""
        if self.model is None:
            return question
        turns = "\n".join(
            f"Q: {q}\nA: {a[:600]}"
            for q, a in history[-4:]  # the last few turns suffice
        )
        system, user = prompts.load("condense_question").render(history=turns, question=question)
        reply = self.model.complete(system, user, max_tokens=200).strip().strip('"')
        return reply if reply and len(reply) < 4 * len(question) + 200 else question

    def translate_passage(self, text: str, source_lang: str, target_lang: str) -> str:
        """A passage translated by the model for the reader (the original stays primary)."""
        if self.model is None:
            raise ModelError("translating a passage needs a connected model (OPENAI_BASE_URL)")
        names = generate.LANG_NAMES
        system, user = prompts.load("translate_passage").render(
            # The passage sits between <<< and >>>: its own cannot end it early.
            text=text.replace("<<<", "\u2039\u2039\u2039").replace(">>>", "\u203a\u203a\u203a"),
            source_lang=names.get(source_lang, source_lang),
            target_lang=names.get(target_lang, target_lang),
        )
        return self.model.complete(system, user).strip()

    def _doc_text(self, doc_id: str) -> str:
        return self.reader.doc(doc_id)[1]

    def close(self) -> None:
        self.reader.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def hit_to_dict(hit: Hit, rank: int) -> dict[str, Any]:
    return {
        "rank": rank,
        "score": round(hit.score, 6),
        "bm25_rank": hit.bm25_rank,
        "dense_rank": hit.dense_rank,
        "xling_rank": hit.xling_rank,
        "matched": [{"query": q, "via": how, "term": term} for q, how, term in hit.matched],
        "chunk_id": hit.chunk.chunk_id,
        "doc_id": hit.doc.doc_id,
        "title": hit.doc.title,
        "path": hit.doc.path,
        "lang": hit.chunk.lang,
        "source": hit.doc.source,
        "date": hit.doc.date,
        "start": hit.chunk.start,
        "end": hit.chunk.end,
        "text": hit.chunk.text,
        "sentences": [list(s) for s in hit.chunk.sentences],
    }


def answer_to_dict(answer: Answer) -> dict[str, Any]:
    """The ``--json`` shape of an answer; later features extend it, never break it."""
    return {
        "question": answer.question,
        "answer": answer.answer,
        "abstained": answer.abstained,
        "question_lang": answer.question_lang,
        "translations": dict(answer.translations),
        "warnings": list(answer.warnings),
        "standalone_question": answer.standalone,
        "generated_by": answer.generated_by,
        "unsupported_sentences": list(answer.unsupported),
        "invented_citations": answer.invented_citations,
        "citations": [asdict(c) for c in answer.citations],
        "passages": [hit_to_dict(h, r) for r, h in enumerate(answer.hits, 1)],
    }
