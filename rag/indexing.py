"""Ingest files into an index: read, chunk, analyze, embed, store; report per file."""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
from llama_index.core.schema import Document

from rag import crossling, langs, workers
from rag.analysis import analyze
from rag.chunking import SentenceChunker
from rag.config import Settings
from rag.embeddings import HashedNgramEmbedding, ModelEmbedding, make_embedding
from rag.errors import IndexNotFoundError, IngestError
from rag.ingest import Skipped, count_files, iter_sources
from rag.store import ChunkRecord, IndexWriter, release_memory, writer
from rag.types import Chunk, SourceDoc

log = logging.getLogger(__name__)
_NO_VECTOR = np.zeros(0, dtype=np.float32)


@dataclass(frozen=True)
class Progress:
    """Where an ingest is: ``stage`` "read" (files read, chunked), "embed" (a model embeds the
    new texts: 0 of 1, then 1 of 1), "index" (documents embedded and stored) or "finish"
    (lexical and vector indexes written); ``done`` of ``total``."""

    stage: str
    done: int
    total: int
    name: str = ""


@dataclass
class IngestReport:
    """What one ingest did, per document, and what it could not read."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    reindexed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[IngestError] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    chunks: int = 0
    languages: dict[str, int] = field(default_factory=dict)
    total_chunks: int = 0
    total_documents: int = 0
    seconds: float = 0.0
    # Seconds per stage: read, chunk (chunking and analysis), idf, embed, store (SQLite),
    # chroma, lexical (BM25 and the vectors file).
    stages: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed


def search_text(title: str, chunk_text: str) -> str:
    """What is analyzed and embedded for a chunk: its text, with the title for context.

    Never quoted or displayed: quotes come from the original at the chunk's offsets.
    """
    if title and title not in chunk_text:
        return f"{title}\n{chunk_text}"
    return chunk_text


def make_records(doc: SourceDoc, chunker: SentenceChunker) -> list[ChunkRecord]:
    """Chunks of ``doc`` with their analyzed tokens; vectors are filled in by ``embed``."""
    llama_doc = Document(
        id_=doc.doc_id,
        text=doc.text,
        metadata={
            "doc_id": doc.doc_id,
            "content_hash": doc.content_hash,
            "furniture": doc.meta.get("furniture", []),
        },
    )
    records = []
    for node in chunker.get_nodes_from_documents([llama_doc]):
        text = node.get_content()
        start, end = node.start_char_idx, node.end_char_idx  # type: ignore[attr-defined]
        if start is None or end is None or doc.text[start:end] != text:
            raise IngestError(doc.path, f"internal error: chunk {node.node_id} lost its offsets")
        chunk = Chunk(
            chunk_id=node.node_id,
            doc_id=doc.doc_id,
            ord=int(node.metadata["ord"]),
            start=start,
            end=end,
            text=text,
            lang=langs.detect(text, default=doc.lang),
            sentences=tuple((int(s), int(e)) for s, e in node.metadata["sentences"]),
        )
        # Sentences are analyzed once, here: the re-ranker and the answer read their terms
        # from the store instead of analyzing at query time. The chunk's tokens are the
        # sentences' tokens plus the title's when the title is not part of the chunk.
        # Tokens per sentence: analyzed, and cross-lingual (lexicon concepts, name keys,
        # numbers, dates) that the xling leg indexes and through which a sentence supports a
        # question's word.
        pairs = [_sentence_tokens(doc.text[s:e], chunk.lang) for s, e in chunk.sentences]
        per_sentence = [list(a) for a, _ in pairs]
        x_sentence = [list(x) for _, x in pairs]
        with_title = search_text(doc.title, text) != text
        title = analyze(doc.title, chunk.lang) if with_title else []
        x_title = crossling.text_tokens(doc.title, chunk.lang) if with_title else []
        tokens = title + [t for sent in per_sentence for t in sent]
        xtokens = x_title + [t for sent in x_sentence for t in sent]
        sentence_terms = [a + x for a, x in zip(per_sentence, x_sentence, strict=True)]
        records.append(
            ChunkRecord(
                chunk,
                " ".join(tokens),
                _NO_VECTOR,
                json.dumps(sentence_terms, ensure_ascii=False),
                " ".join(xtokens),
            )
        )
    return records


@lru_cache(maxsize=50_000)
def _sentence_tokens(sentence: str, lang: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A sentence's analyzed and cross-lingual tokens, computed once per text: overlapping
    chunks share sentences, and agencies' boilerplate and republished stories repeat them
    across documents (a quarter of the sentences in a sample of 900 news articles were new)."""
    return tuple(analyze(sentence, lang)), tuple(crossling.text_tokens(sentence, lang))


def index_paths(
    paths: list[str | Path],
    settings: Settings,
    *,
    rebuild: bool = False,
    prune: bool = False,
    progress: Callable[[Progress], None] | None = None,
) -> IngestReport:
    """Add or update the documents under ``paths`` in the index at ``settings.index_dir``.

    Unchanged documents (same content hash) are skipped; a document whose text changed is
    replaced whole. Files that cannot be read are reported in ``failed``; the rest is indexed
    and nothing already indexed is lost. When the index was built with other chunking or
    embedding settings, every stored document is re-chunked from its stored original.
    """
    t0 = time.perf_counter()
    report = IngestReport()
    embedder = make_embedding(settings.embed, settings.llm)
    if isinstance(embedder, ModelEmbedding):
        # The model's own dimension is what the index stores (a request the first time).
        settings = replace(settings, embed=replace(settings.embed, dim=embedder.dimension()))
    model = None if isinstance(embedder, HashedNgramEmbedding) else embedder
    with writer(settings) as w, workers.Pool(workers.default_workers()) as pool:
        stored = w.stored_fingerprint()
        reindex = rebuild or (stored is not None and stored != settings.fingerprint())
        run = _Run(w, pool, settings, model, report, progress)
        inputs: set[str] = set()
        files = count_files(paths) if progress else 0
        read = 0

        def on_file(path: Path) -> None:
            nonlocal read
            read += 1
            if progress:
                progress(Progress("read", read, max(files, read), path.name))

        for item in iter_sources(paths, on_file=on_file, max_mb=settings.ingest.max_mb):
            if isinstance(item, IngestError):
                report.failed.append(item)
                continue
            if isinstance(item, Skipped):
                report.skipped.append(item)
                continue
            if item.doc_id in inputs:
                report.failed.append(
                    IngestError(
                        item.path,
                        f"same document id {item.doc_id!r} as another input of this run; "
                        "give files in different folders by their folder, not by name",
                    )
                )
                continue
            inputs.add(item.doc_id)
            known = w.known_hash(item.doc_id)
            if known == item.content_hash:
                # Unchanged; on a re-index its stored copy is re-indexed below.
                report.unchanged.append(item.doc_id)
                continue
            run.add(item, again=False, was_stored=known is not None)
        run.flush()
        if prune:
            failed = {str(Path(e.path).resolve()) for e in report.failed}
            gone = _gone(w.stored_paths(), paths, inputs, failed)
            for doc_id in gone:
                w.remove(doc_id)
            report.removed = gone
        if reindex:
            # Every stored document not written above, re-chunked from its stored original.
            for doc_id in w.stored_doc_ids():
                doc = w.stored_document(doc_id) if doc_id not in run.written else None
                if doc is not None:
                    report.reindexed.append(doc_id)
                    run.add(doc, again=True, was_stored=True)
            run.flush()
            w.reset_vectors()
        if model is None:
            run.vectors(reindex)
        report.languages = dict(run.languages.most_common())
        # Nothing written and the derived indexes current: re-ingesting an unchanged folder
        # only reads and hashes the files.
        manifest = w.current_manifest() if not run.changed and not report.removed else None
        if manifest is None:
            if progress:
                progress(Progress("finish", 0, 1))
            manifest = w.finish()
            report.stages.update(w.timings)
            if progress:
                progress(Progress("finish", 1, 1))
    busy = sum(v for k, v in report.stages.items() if k != "read")
    report.stages["read"] = max(0.0, time.perf_counter() - t0 - busy)
    report.total_chunks = manifest["counts"]["chunks"]
    report.total_documents = manifest["counts"]["documents"]
    report.seconds = time.perf_counter() - t0
    return report


# Characters of document text chunked, analyzed and stored together: a run of any size holds
# one batch of chunk records at a time (about 30 KB a chunk), not all of them.
BATCH_CHARS = 4_000_000
# Chunks whose n-gram counts or vectors are computed (and stored) together.
VECTOR_BATCH = 4096


class _Run:
    """The documents of one ingest, chunked and stored a batch at a time. With hashed vectors
    the chunks are stored first and their vectors computed once every batch is in (the IDF
    may be fitted on all of them), a batch at a time too. A model embeds before anything is
    stored and its batch is the whole run: a model that fails half-way leaves the index as it
    was, and the next run pays only for what is not cached yet."""

    def __init__(
        self,
        w: IndexWriter,
        pool: workers.Pool,
        settings: Settings,
        model: ModelEmbedding | None,
        report: IngestReport,
        progress: Callable[[Progress], None] | None,
    ) -> None:
        self.w, self.pool, self.settings, self.model = w, pool, settings, model
        self.report, self.progress = report, progress
        self.batch: list[tuple[SourceDoc, bool, bool]] = []
        self.chars = 0
        self.written: set[str] = set()
        self.languages: Counter[str] = Counter()
        self.changed = False

    def add(self, doc: SourceDoc, *, again: bool, was_stored: bool) -> None:
        self.batch.append((doc, again, was_stored))
        self.chars += len(doc.text)
        if self.model is None and self.chars >= BATCH_CHARS:
            self.flush()

    def flush(self) -> None:
        """Chunk, analyze (on every core) and store the documents added since the last flush."""
        batch, self.batch, self.chars = self.batch, [], 0
        if not batch:
            return
        report = self.report
        mark = time.perf_counter()
        done: list[tuple[SourceDoc, list[ChunkRecord]]] = []
        results = workers.records(self.pool, [d for d, _, _ in batch], self.settings.chunk)
        for (doc, again, was_stored), result in zip(batch, results, strict=True):
            if isinstance(result, IngestError):
                log.warning("could not index %s: %s", doc.doc_id, result.reason)
                report.failed.append(result)
                if again:
                    report.reindexed.remove(doc.doc_id)
                continue
            done.append((doc, result))
            if not again:
                (report.updated if was_stored else report.added).append(doc.doc_id)
        mark = _stage(report, "chunk", mark)
        if self.model is not None:
            done = self._embed(done)
            mark = _stage(report, "embed", mark)
        for n, (doc, records) in enumerate(done, start=1):
            self.w.put(doc, records)
            self.written.add(doc.doc_id)
            self.changed = True
            report.chunks += len(records)
            self.languages[doc.lang] += 1
            if self.progress:
                self.progress(Progress("index", n, len(done), doc.doc_id))
        del done, results
        if sum(len(d.text) for d, _, _ in batch) >= BATCH_CHARS // 4:
            release_memory()  # a large batch's records: give the memory back
        _stage(report, "store", mark)

    def _embed(
        self, done: list[tuple[SourceDoc, list[ChunkRecord]]]
    ) -> list[tuple[SourceDoc, list[ChunkRecord]]]:
        """The records with the model's vectors (every text of the batch in one call)."""
        assert self.model is not None
        texts = [search_text(d.title, r.chunk.text) for d, records in done for r in records]
        if self.progress and done:
            self.progress(Progress("embed", 0, 1))
        vectors = self.model.matrix(texts) if texts else np.zeros((0, self.settings.embed.dim))
        if self.progress and done:
            self.progress(Progress("embed", 1, 1))
        out, row = [], 0
        for doc, records in done:
            out.append((doc, [replace(r, vector=vectors[row + j]) for j, r in enumerate(records)]))
            row += len(records)
        return out

    def vectors(self, reindex: bool) -> None:
        """Fit the n-gram IDF when it is due, then compute the vectors of every chunk stored
        without one: this run's, all of them after a new fit, and any that a stopped run left
        without. The IDF is fitted on at most ``embed.idf_sample`` chunks, evenly spread,
        when there is none, on a re-index, or when the index has doubled since the last fit
        (so re-embedding stays linear in the size of the index)."""
        w, settings = self.w, self.settings
        mark = time.perf_counter()
        table, fitted_on = w.idf_state()
        if not settings.embed.idf:
            table = None
        else:
            total = w.chunk_count()
            if total and (table is None or reindex or total >= 2 * max(fitted_on, 1)):
                df, sampled = None, 0
                for part in w.sample_chunk_texts(settings.embed.idf_sample, VECTOR_BATCH):
                    texts = [search_text(title, text) for title, text in part]
                    counted = workers.document_frequencies(self.pool, texts, settings.embed)
                    df = counted if df is None else df + counted
                    sampled += len(texts)
                assert df is not None
                table = HashedNgramEmbedding.idf_table(df, sampled)
                w.refit_idf(table, total)
                self.changed = True
        mark = _stage(self.report, "idf", mark)
        embedded = 0
        for chunk_ids, pairs in w.vectors_without(VECTOR_BATCH):
            texts = [search_text(title, text) for title, text in pairs]
            w.set_vectors(chunk_ids, workers.embed(self.pool, texts, settings.embed, table))
            self.changed = True
            embedded += len(chunk_ids)
        if embedded >= VECTOR_BATCH:
            release_memory()
        _stage(self.report, "embed", mark)


def _stage(report: IngestReport, name: str, since: float) -> float:
    now = time.perf_counter()
    report.stages[name] = report.stages.get(name, 0.0) + now - since
    return now


def remove_documents(doc_ids: list[str], settings: Settings) -> tuple[list[str], list[str]]:
    """Remove documents from the index; returns (removed, not found). The derived indexes,
    Chroma included, are brought in step before returning."""
    if not (settings.index_dir / "manba.sqlite3").exists():
        raise IndexNotFoundError(f"no index at {settings.index_dir}")
    removed: list[str] = []
    missing: list[str] = []
    with writer(settings) as w:
        for doc_id in doc_ids:
            (removed if w.remove(doc_id) else missing).append(doc_id)
        if removed:
            w.finish()
    return removed, missing


def _gone(
    stored: list[tuple[str, str]],
    roots: list[str | Path],
    inputs: set[str],
    failed_paths: set[str],
) -> list[str]:
    """Stored documents under ``roots`` whose source is gone: the file no longer exists, or
    it was read this run without producing that document (a JSONL row deleted, a file
    renamed). A file that failed to read this run keeps its documents."""
    bases = [Path(r).resolve() for r in roots]
    gone = []
    for doc_id, path in stored:
        source = Path(path)
        if not any(source == b or b in source.parents for b in bases):
            continue
        if not source.exists() or (
            doc_id not in inputs and path not in failed_paths and str(source) not in failed_paths
        ):
            gone.append(doc_id)
    return gone
