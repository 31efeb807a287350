"""Where the vectors live: a Chroma collection embedded in the index folder, or on a server.

Embedded (``store.chroma_url`` empty, the default): a PersistentClient on ``index_dir/chroma``
holding the collection ``manba_chunks``. Server: ``chromadb.HttpClient`` on the URL, with a
collection named after the index folder (or ``store.chroma_collection``), so several indexes can
share one server. Either way SQLite in the index folder stays the source of truth, and the
collection can be dropped and refilled from it (``IndexWriter.finish``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from rag.config import Settings, parse_chroma_url
from rag.errors import VectorStoreError

COLLECTION = "manba_chunks"  # the embedded store's collection: one index per folder
TOKEN_HEADER = "X-Chroma-Token"


def _configuration(settings: Settings) -> dict[str, Any]:
    """A new collection's configuration: cosine, HNSW as the settings say.

    Embeddings are always passed in: no embedding function, so Chroma never downloads its
    default ONNX model. Construction effort is Chroma's default (insertion speed bounds ingest:
    ~1,300 vectors/s at 256 dimensions, half that at ef 400 / 32 links); search effort is raised,
    since HNSW loses recall on hashed vectors (PITFALLS.md) and exact search is the default
    dense backend anyway.
    """
    store = settings.store
    return {
        "hnsw": {
            "space": "cosine",
            "ef_construction": store.hnsw_ef_construction,
            "max_neighbors": store.hnsw_max_neighbors,
            "ef_search": store.hnsw_ef_search,
        }
    }


def collection_name(settings: Settings) -> str:
    """``store.chroma_collection`` if set; else ``manba_chunks`` embedded, and on a server
    ``manba_`` plus a hash of the index folder's resolved path (one collection per index)."""
    store = settings.store
    if store.chroma_collection:
        return store.chroma_collection
    if not store.chroma_url:
        return COLLECTION
    path = str(settings.index_dir.resolve())
    return "manba_" + hashlib.sha256(path.encode("utf-8")).hexdigest()[:16]


def describe(settings: Settings) -> str:
    """Where the vectors are, for messages: a folder, or a collection on a server."""
    if not settings.store.chroma_url:
        return str(settings.index_dir / "chroma")
    return f"collection {collection_name(settings)} on {settings.store.chroma_url}"


def _unreachable(settings: Settings, exc: BaseException) -> VectorStoreError:
    url = settings.store.chroma_url
    host, port, _ = parse_chroma_url(url)
    if type(exc).__name__ in ("ChromaAuthError", "AuthorizationError"):
        return VectorStoreError(
            f"the Chroma server at {url} refused the request ({exc}); check "
            "MANBA_STORE__CHROMA_TOKEN"
        )
    return VectorStoreError(
        f"the Chroma server at {url} cannot be reached ({exc}). Start it with "
        f"`chroma run --path DIR --host {host} --port {port}`, or correct "
        "MANBA_STORE__CHROMA_URL (leave it empty for the embedded store in the index folder)"
    )


@contextmanager
def reaching(settings: Settings) -> Iterator[None]:
    """Turn a failure to talk to the Chroma server into a VectorStoreError saying what to do.
    Embedded, errors pass through unchanged."""
    if not settings.store.chroma_url:
        yield
        return
    import httpx
    from chromadb.errors import AuthorizationError, ChromaAuthError

    try:
        yield
    except (httpx.TransportError, ChromaAuthError, AuthorizationError) as exc:
        raise _unreachable(settings, exc) from exc


def client(settings: Settings) -> Any:
    """A Chroma client with telemetry off: a PersistentClient on ``index_dir/chroma``, or an
    HttpClient on ``store.chroma_url`` (which checks at once that the server answers)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    store = settings.store
    if not store.chroma_url:
        return chromadb.PersistentClient(
            path=str(settings.index_dir / "chroma"),
            settings=ChromaSettings(anonymized_telemetry=False, allow_reset=True),
        )
    host, port, ssl = parse_chroma_url(store.chroma_url)
    try:
        return chromadb.HttpClient(
            host=f"[{host}]" if ":" in host else host,  # an IPv6 address
            port=port,
            ssl=ssl,
            headers={TOKEN_HEADER: store.chroma_token} if store.chroma_token else None,
            settings=ChromaSettings(anonymized_telemetry=False),
        )
    except Exception as exc:  # chromadb raises a bare ValueError when nothing answers
        raise _unreachable(settings, exc) from exc


def collection(settings: Settings, chroma: Any = None) -> Any:
    """The index's collection (created if missing: cosine, tuned HNSW, no embedding
    function), through ``chroma`` or a new ``client(settings)``."""
    chroma = chroma if chroma is not None else client(settings)
    with reaching(settings):
        return chroma.get_or_create_collection(
            collection_name(settings),
            embedding_function=None,
            configuration=_configuration(settings),
        )


def drop(settings: Settings) -> None:
    """Delete the index's collection, if it exists; ``IndexWriter.finish`` refills it.

    Deleted through the client, never by removing the folder: Chroma caches one client per
    path in a process, and a client whose files vanished can no longer write.
    """
    from chromadb.errors import NotFoundError

    chroma = client(settings)
    with reaching(settings), suppress(NotFoundError):
        chroma.delete_collection(collection_name(settings))


def server_status(settings: Settings) -> dict[str, Any]:
    """The server's heartbeat (ns), version, the index's collection and its vector count.
    Raises VectorStoreError when the server cannot be reached; only for ``chroma_url``."""
    from chromadb.errors import NotFoundError

    chroma = client(settings)
    name = collection_name(settings)
    with reaching(settings):
        status: dict[str, Any] = {
            "url": settings.store.chroma_url,
            "heartbeat": int(chroma.heartbeat()),
            "version": str(chroma.get_version()),
            "collection": name,
        }
        try:
            status["count"] = int(chroma.get_collection(name).count())
        except NotFoundError:
            status["count"] = None
    return status


@contextmanager
def scratch(settings: Settings, index_dir: Path) -> Iterator[Settings]:
    """Settings for a throwaway index at ``index_dir`` (evaluation runs). On a server its
    collection is named after that folder, never ``store.chroma_collection`` (syncing the
    throwaway index would delete the real index's vectors from it), and dropped on exit."""
    run = replace(
        settings.with_index(index_dir), store=replace(settings.store, chroma_collection="")
    )
    try:
        yield run
    finally:
        if run.store.chroma_url:
            with suppress(VectorStoreError):  # the run's own error, if any, matters more
                drop(run)


def add_nodes(collection: Any, nodes: list[Any]) -> None:
    """Add llama-index nodes (with embeddings) to ``collection``: id, vector and the node's
    own flat metadata (document, position, language, outlet, date: what a Chroma-side filter
    needs), nothing else.

    Not ``ChromaVectorStore.add``: it sends the text, from which Chroma builds a full-text
    index (inserts 3.4x slower, collection 6.6x larger; 5,000 news chunks at 256 dimensions,
    measured here), and a JSON copy of each node as metadata (``_node_content``), which cost
    as much again. The text lives in SQLite, the source of truth, and citations slice it
    from there; Manba reads back only ids and distances.
    """
    if not nodes:
        return
    metadatas = [{k: ("" if v is None else v) for k, v in node.metadata.items()} for node in nodes]
    collection.add(
        ids=[n.node_id for n in nodes],
        embeddings=np.asarray([n.get_embedding() for n in nodes], dtype=np.float32),
        metadatas=metadatas,
    )
