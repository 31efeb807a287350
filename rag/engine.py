"""One loaded index and the two things users do with it: search and ask."""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

import numpy as np

from rag import langs
from rag.answer import extractive_answer
from rag.config import Settings
from rag.llm import ChatModel
from rag.retrieval import Filters, Searcher
from rag.store import IndexReader
from rag.translate import Translations, Translator
from rag.types import Answer, Hit


class Engine:
    """Load an index once; answer many questions (thread-safe for reads)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.reader = IndexReader(settings)
        self.searcher = Searcher(self.reader, settings)
        self._index_langs = sorted(str(x) for x in np.unique(self.reader.langs))
        self.translator: Translator | None = None
        if settings.llm.connected and settings.llm.translate:
            self.translator = Translator(ChatModel(settings.llm))
        self._translated: dict[str, Translations] = {}  # recent questions: one model call each

    @property
    def mode_label(self) -> str:
        parts = []
        if self.translator is not None:
            parts.append(f"questions translated by {self.translator.model.label}")
        embed = self.reader.embed_settings
        if embed.is_model:
            parts.append(f"{embed.model} embeddings")
        if not parts:
            return "offline (extractive)"
        return "offline answers, " + ", ".join(parts)

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
        if self.translator is None:
            return 0
        return sum(self.translator.model.usage.values())

    def search(
        self,
        text: str,
        k: int | None = None,
        filters: Filters | None = None,
        mode: str | None = None,
        rerank: bool = True,
    ) -> list[Hit]:
        translated = self.translate(text)
        return self.searcher.search(
            text, k, filters, mode, rerank=rerank, translations=translated.texts
        )[1]

    def ask(self, question: str, k: int | None = None, filters: Filters | None = None) -> Answer:
        translated = self.translate(question)
        query, hits = self.searcher.search(question, k, filters, translations=translated.texts)
        answer = extractive_answer(question, query, hits, self.searcher, self.settings.answer)
        answer = replace(
            answer,
            translations=tuple(sorted(translated.texts.items())),
            warnings=tuple(dict.fromkeys(translated.warnings + tuple(query.warnings))),
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
        "citations": [asdict(c) for c in answer.citations],
        "passages": [hit_to_dict(h, r) for r, h in enumerate(answer.hits, 1)],
    }
