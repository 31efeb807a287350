"""Ingest files into an index: read, chunk, analyze, embed, store; report per file."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from llama_index.core.schema import Document

from rag import langs
from rag.analysis import analyze
from rag.chunking import SentenceChunker
from rag.config import Settings
from rag.embeddings import HashedNgramEmbedding, make_embedding
from rag.errors import IndexNotFoundError, IngestError
from rag.ingest import iter_sources
from rag.store import ChunkRecord, IndexWriter, writer
from rag.types import Chunk, SourceDoc

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    """What one ingest did, per document, and what it could not read."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    reindexed: list[str] = field(default_factory=list)
    failed: list[IngestError] = field(default_factory=list)
    chunks: int = 0
    total_chunks: int = 0
    total_documents: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed


def search_text(doc: SourceDoc, chunk_text: str) -> str:
    """What is analyzed and embedded for a chunk: its text, with the title for context.

    Never quoted or displayed: quotes come from the original at the chunk's offsets.
    """
    if doc.title and doc.title not in chunk_text:
        return f"{doc.title}\n{chunk_text}"
    return chunk_text


def make_records(
    doc: SourceDoc, chunker: SentenceChunker, embedder: HashedNgramEmbedding
) -> list[ChunkRecord]:
    """Chunks of ``doc`` with their analyzed tokens and embeddings."""
    llama_doc = Document(
        id_=doc.doc_id,
        text=doc.text,
        metadata={"doc_id": doc.doc_id, "content_hash": doc.content_hash},
    )
    nodes = chunker.get_nodes_from_documents([llama_doc])
    chunks: list[Chunk] = []
    for node in nodes:
        text = node.get_content()
        start, end = node.start_char_idx, node.end_char_idx  # type: ignore[attr-defined]
        if start is None or end is None or doc.text[start:end] != text:
            raise IngestError(doc.path, f"internal error: chunk {node.node_id} lost its offsets")
        chunks.append(
            Chunk(
                chunk_id=node.node_id,
                doc_id=doc.doc_id,
                ord=int(node.metadata["ord"]),
                start=start,
                end=end,
                text=text,
                lang=langs.detect(text, default=doc.lang),
                sentences=tuple((int(s), int(e)) for s, e in node.metadata["sentences"]),
            )
        )
    texts = [search_text(doc, c.text) for c in chunks]
    vectors = embedder.matrix(texts)
    records = []
    for chunk, text, vector in zip(chunks, texts, vectors, strict=True):
        # Sentences are analyzed once, here: the re-ranker and the answer read their terms
        # from the store instead of analyzing at query time. The chunk's tokens are the
        # sentences' tokens plus the title's when the title is not part of the chunk.
        per_sentence = [analyze(doc.text[s:e], chunk.lang) for s, e in chunk.sentences]
        title = analyze(doc.title, chunk.lang) if text != chunk.text else []
        tokens = title + [t for sent in per_sentence for t in sent]
        records.append(ChunkRecord(chunk, tokens, vector, per_sentence))
    return records


def index_paths(
    paths: list[str | Path],
    settings: Settings,
    *,
    rebuild: bool = False,
    progress: Callable[[str, str], None] | None = None,
) -> IngestReport:
    """Add or update the documents under ``paths`` in the index at ``settings.index_dir``.

    Unchanged documents (same content hash) are skipped; a document whose text changed is
    replaced whole. Files that cannot be read are reported in ``failed``; the rest is indexed
    and nothing already indexed is lost. When the index was built with other chunking or
    embedding settings, every stored document is re-chunked from its stored original.
    """
    t0 = time.perf_counter()
    report = IngestReport()
    chunker = SentenceChunker(
        max_tokens=settings.chunk.max_tokens,
        overlap_tokens=settings.chunk.overlap_tokens,
        encoding=settings.chunk.encoding,
    )
    embedder = make_embedding(settings.embed)
    with writer(settings) as w:
        stored = w.stored_fingerprint()
        if rebuild or (stored is not None and stored != settings.fingerprint()):
            _reindex_all(w, chunker, embedder, report)
        seen: set[str] = set()
        for item in iter_sources(paths):
            if isinstance(item, IngestError):
                report.failed.append(item)
                if progress:
                    progress("failed", str(item))
                continue
            if item.doc_id in seen:
                report.failed.append(
                    IngestError(
                        item.path,
                        f"same document id {item.doc_id!r} as another input of this run; "
                        "give files in different folders by their folder, not by name",
                    )
                )
                continue
            seen.add(item.doc_id)
            known = w.known_hash(item.doc_id)
            if known == item.content_hash:
                report.unchanged.append(item.doc_id)
                continue
            try:
                records = make_records(item, chunker, embedder)
            except IngestError as err:
                report.failed.append(err)
                continue
            except Exception as exc:  # one bad document must not sink the batch
                log.exception("could not index %s", item.doc_id)
                report.failed.append(
                    IngestError(item.path, f"could not be indexed ({type(exc).__name__}: {exc})")
                )
                continue
            w.put(item, records)
            report.chunks += len(records)
            (report.updated if known else report.added).append(item.doc_id)
            if progress:
                progress("updated" if known else "added", item.doc_id)
        manifest = w.finish()
    report.total_chunks = manifest["counts"]["chunks"]
    report.total_documents = manifest["counts"]["documents"]
    report.seconds = time.perf_counter() - t0
    return report


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


def _reindex_all(
    w: IndexWriter, chunker: SentenceChunker, embedder: HashedNgramEmbedding, report: IngestReport
) -> None:
    """Re-chunk every stored document from its stored original, one transaction each: a
    failure part way leaves every document either as it was or re-chunked, never missing."""
    for doc in list(w.all_documents()):
        records = make_records(doc, chunker, embedder)
        w.put(doc, records)
        report.chunks += len(records)
        report.reindexed.append(doc.doc_id)
    w.reset_vectors()
