"""Ingest's CPU work on every core: chunking and analysis, n-gram statistics, hashed vectors.

A large ingest hands documents and texts to a pool of worker processes; a small one (an
upload, one new article) does the work in the calling process, where starting workers would
cost more than it saves. Workers start from a fork server that has imported Manba once, so a
pool is up in a fraction of a second and no worker inherits the caller's threads or open
Chroma/SQLite handles. Results come back in input order, so what is stored never depends on
how the work was split.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

import numpy as np

from rag.config import ChunkSettings, EmbedSettings

T = TypeVar("T")
R = TypeVar("R")

# Below these sizes the work runs in the calling process.
MIN_DOCS = 24
MIN_CHARS = 1_000_000  # or fewer documents with this much text (the parts of a long file)
MIN_TEXTS = 400
_TEXT_BATCH = 256

_cache: dict[Any, Any] = {}


def default_workers() -> int:
    """Worker processes for a large ingest: one per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _context() -> multiprocessing.context.BaseContext:
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["rag.workers", "rag.indexing"])
        return ctx
    return multiprocessing.get_context("spawn")


class Pool:
    """A process pool opened on first use (never, for small work) and closed on exit."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = None

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def map(self, fn: Callable[[T], R], items: Sequence[T], *, parallel: bool) -> Iterator[R]:
        """``fn`` over ``items`` in order: in the workers when ``parallel`` and there is more
        than one worker, else here."""
        if not parallel or self.workers < 2 or len(items) < 2:
            return map(fn, items)
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                self.workers,
                mp_context=_context(),
                initializer=_watch_owner,
                initargs=(os.getpid(),),
            )
        chunksize = max(1, min(16, len(items) // (self.workers * 8)))
        return self._executor.map(fn, items, chunksize=chunksize)


def _watch_owner(owner: int) -> None:
    """In a worker: exit when the process that started the pool is gone (killed ingests
    otherwise leave workers waiting on a queue that nobody will ever write to)."""

    def watch() -> None:
        while True:
            time.sleep(1.0)
            try:
                os.kill(owner, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:
                pass

    threading.Thread(target=watch, name="manba-owner-watch", daemon=True).start()


# --- jobs (module-level, so they pickle by name) --------------------------------------------
def _chunker(settings: ChunkSettings) -> Any:
    from rag.chunking import SentenceChunker

    key = ("chunker", settings)
    if key not in _cache:
        _cache[key] = SentenceChunker(
            max_tokens=settings.max_tokens,
            overlap_tokens=settings.overlap_tokens,
            encoding=settings.encoding,
        )
    return _cache[key]


def _embedder(settings: EmbedSettings) -> Any:
    from rag.embeddings import make_embedding

    key = ("embedder", settings)
    if key not in _cache:
        _cache[key] = make_embedding(settings)
    return _cache[key]


def records_job(job: tuple[Any, ChunkSettings]) -> Any:
    """Chunks and analyzed tokens of one document, or the IngestError that stopped it."""
    from rag.errors import IngestError
    from rag.indexing import make_records

    doc, settings = job
    try:
        return make_records(doc, _chunker(settings))
    except IngestError as err:
        return err
    except Exception as exc:  # one bad document must not sink the batch
        return IngestError(doc.path, f"could not be indexed ({type(exc).__name__}: {exc})")


def df_job(job: tuple[list[str], EmbedSettings]) -> np.ndarray:
    texts, settings = job
    return np.asarray(_embedder(settings).document_frequencies(texts), dtype=np.int64)


def embed_job(job: tuple[list[str], EmbedSettings, np.ndarray | None]) -> np.ndarray:
    texts, settings, idf = job
    embedder = _embedder(settings)
    embedder.set_idf(idf)
    return np.asarray(embedder.matrix(texts), dtype=np.float32)


def batches(texts: list[str], size: int = _TEXT_BATCH) -> list[list[str]]:
    return [texts[i : i + size] for i in range(0, len(texts), size)]


def document_frequencies(pool: Pool, texts: list[str], settings: EmbedSettings) -> np.ndarray:
    """Per-slot document frequencies of ``texts`` (int32), counted on every worker."""
    from rag.embeddings import IDF_BUCKETS

    df = np.zeros(IDF_BUCKETS, dtype=np.int64)
    jobs = [(b, settings) for b in batches(texts, 2048)]
    for part in pool.map(df_job, jobs, parallel=len(texts) >= MIN_TEXTS):
        df += part
    return df.astype(np.int32)


def embed(
    pool: Pool, texts: list[str], settings: EmbedSettings, idf: np.ndarray | None
) -> np.ndarray:
    """Hashed vectors of ``texts`` (rows, in order), computed on every worker."""
    if not texts:
        return np.zeros((0, settings.dim), dtype=np.float32)
    jobs = [(b, settings, idf) for b in batches(texts)]
    parts = list(pool.map(embed_job, jobs, parallel=len(texts) >= MIN_TEXTS))
    return np.vstack(parts)


def records(pool: Pool, docs: Iterable[Any], settings: ChunkSettings) -> Iterator[Any]:
    """``records_job`` over ``docs``, in order."""
    items = [(doc, settings) for doc in docs]
    large = sum(len(doc.text) for doc, _ in items) >= MIN_CHARS
    return pool.map(records_job, items, parallel=len(items) >= MIN_DOCS or large)
