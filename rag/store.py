"""The index folder: the source of truth in SQLite, and the indexes derived from it.

    manba.sqlite3   documents (original text, whole) and chunks (offsets, sentences, analyzed
                    tokens, embedding): everything else can be rebuilt from it
    chroma/         Chroma PersistentClient collection (cosine), written through llama-index;
                    or a Chroma server's collection instead (rag.vectorstore, store.chroma_url)
    bm25/           bm25s index over the analyzed tokens        } the base segment, over the
    xbm25/          bm25s index over the cross-lingual tokens   } chunks listed in
    vectors.npy     the embeddings, for exact dense search      } base-seq.npy (SQLite seq)
    delta-*         the same for chunks added since the base (rag.lexical), when there are few
    manifest.json   fingerprint, generation, counts, content hashes, base and delta

Chroma is not process-safe for writers, so one writer holds ``.lock``; derived indexes carry
the generation they were built from; a reader whose snapshot is ahead of them (an ingest is
writing, or was killed) serves the chunks the manifest names, and only a reader that cannot
read them rebuilds them in memory from its own SQLite snapshot (slower, never wrong). A
writer checks the embedded Chroma store when it opens (rag.health).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import gc
import json
import logging
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

import bm25s
import numpy as np

from rag import health, lexical, vectorstore
from rag.analysis import ANALYZER_VERSION
from rag.config import EmbedSettings, Settings
from rag.errors import (
    EmptyIndexError,
    IndexBusyError,
    IndexDamagedError,
    IndexNotFoundError,
    StaleIndexError,
)
from rag.types import Chunk, DocInfo, SourceDoc

log = logging.getLogger(__name__)
T = TypeVar("T")

DB_NAME = "manba.sqlite3"
MANIFEST = "manifest.json"
SEGMENTS = "segments"
# A change of more chunks than this (added plus deleted since the base) rebuilds the base.
DELTA_MIN = 2000
DELTA_SHARE = 0.05

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blobs (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, title TEXT NOT NULL, path TEXT NOT NULL, lang TEXT NOT NULL,
    source TEXT NOT NULL, date TEXT NOT NULL, meta TEXT NOT NULL, content_hash TEXT NOT NULL,
    text TEXT NOT NULL, indexed_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, chunk_id TEXT UNIQUE NOT NULL,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    ord INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL, lang TEXT NOT NULL,
    sentences TEXT NOT NULL, tokens TEXT NOT NULL, vector BLOB NOT NULL,
    sentence_tokens TEXT NOT NULL DEFAULT '[]', xtokens TEXT NOT NULL DEFAULT '',
    synced INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
-- Covering indexes: what a reader loads and what the manifest counts, without reading the
-- rows' tokens, vectors and texts (a reader opened 0.1 s sooner at 109k chunks, the manifest's
-- queries took 0.03 s instead of 0.13 s).
CREATE INDEX IF NOT EXISTS chunks_meta ON chunks(seq, chunk_id, doc_id, ord, start, end, lang,
    sentences);
CREATE INDEX IF NOT EXISTS documents_lang ON documents(lang);
CREATE INDEX IF NOT EXISTS documents_hash ON documents(doc_id, content_hash);
-- Chunks deleted from SQLite whose vectors are still in Chroma (removed at the next sync).
CREATE TABLE IF NOT EXISTS chroma_deletes (chunk_id TEXT PRIMARY KEY);
"""


@dataclass(frozen=True)
class ChunkRecord:
    """A chunk as written: the chunk plus what search needs of it, in its stored form
    (tokens space-joined, per-sentence tokens as JSON), made in ingest's workers: one string
    each crosses the process boundary, not hundreds of small ones."""

    chunk: Chunk
    tokens: str
    vector: np.ndarray
    sentence_tokens: str
    xtokens: str = ""


@dataclass(frozen=True)
class DocRow:
    """A stored document as a listing shows it: its info, chunks, characters of text and
    when it was (last) indexed, in seconds since the epoch."""

    info: DocInfo
    chunks: int
    chars: int
    indexed_at: float


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.executescript(_SCHEMA)
    columns = {row[1] for row in conn.execute("PRAGMA table_info(chunks)")}
    if "sentence_tokens" not in columns:  # a store from before the column (re-indexed anyway)
        conn.execute("ALTER TABLE chunks ADD COLUMN sentence_tokens TEXT NOT NULL DEFAULT '[]'")
    if "xtokens" not in columns:
        conn.execute("ALTER TABLE chunks ADD COLUMN xtokens TEXT NOT NULL DEFAULT ''")
    if "synced" not in columns:  # 0 everywhere: the next sync compares all ids once
        conn.execute("ALTER TABLE chunks ADD COLUMN synced INTEGER NOT NULL DEFAULT 0")
    conn.execute("CREATE INDEX IF NOT EXISTS chunks_unsynced ON chunks(synced) WHERE synced=0")
    # Chunks stored before their vectors (``vectors_without``): found without a scan.
    conn.execute(
        "CREATE INDEX IF NOT EXISTS chunks_novector ON chunks(doc_id, ord) WHERE length(vector)=0"
    )
    return conn


def _generation(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
    return int(row[0]) if row else 0


def _meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
    return str(row[0]) if row else None


class IndexWriter:
    """The one writer of an index folder (holds ``.lock`` while open)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.dir = settings.index_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock_file = (self.dir / ".lock").open("w")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            self._lock_file.close()
            raise IndexBusyError(
                f"{self.dir} is being written by another process; wait for it to finish"
            ) from exc
        self.conn = _connect(self.dir / DB_NAME)
        self.timings: dict[str, float] = {}  # seconds per stage of the last finish()
        # A Chroma store a killed writer may have broken: checked in a child process when its
        # files changed since last known good, moved aside and refilled from SQLite if so.
        self.chroma_repair = health.ensure(settings, self.conn)

    def close(self) -> None:
        health.on_close(self.settings, self.conn)
        self.conn.close()
        fcntl.flock(self._lock_file, fcntl.LOCK_UN)
        self._lock_file.close()

    def __enter__(self) -> IndexWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- documents -------------------------------------------------------------------------
    def stored_fingerprint(self) -> str | None:
        return _meta(self.conn, "fingerprint")

    def known_hash(self, doc_id: str) -> str | None:
        row = self.conn.execute(
            "SELECT content_hash FROM documents WHERE doc_id=?", (doc_id,)
        ).fetchone()
        return str(row[0]) if row else None

    def stored_doc_ids(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT doc_id FROM documents ORDER BY doc_id")]

    def stored_document(self, doc_id: str) -> SourceDoc | None:
        """The stored original of ``doc_id`` (None if there is none)."""
        row = self.conn.execute(
            "SELECT doc_id, text, title, path, lang, content_hash, meta FROM documents "
            "WHERE doc_id=?",
            (doc_id,),
        ).fetchone()
        if row is None:
            return None
        doc_id, text, title, path, lang, chash, meta = row
        return SourceDoc(doc_id, text, title, path, lang, chash, json.loads(meta))

    def put(self, doc: SourceDoc, records: list[ChunkRecord]) -> None:
        """Replace ``doc`` and its chunks in one transaction."""
        with self.conn:
            _delete_chunks(self.conn, doc.doc_id)
            self.conn.execute(
                "INSERT OR REPLACE INTO documents VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    doc.doc_id,
                    doc.title,
                    doc.path,
                    doc.lang,
                    str(doc.meta.get("source", "")),
                    str(doc.meta.get("date", "")),
                    json.dumps(doc.meta, ensure_ascii=False),
                    doc.content_hash,
                    doc.text,
                    time.time(),
                ),
            )
            self.conn.executemany(
                "INSERT INTO chunks (chunk_id, doc_id, ord, start, end, lang, sentences, tokens,"
                " vector, sentence_tokens, xtokens) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        r.chunk.chunk_id,
                        doc.doc_id,
                        r.chunk.ord,
                        r.chunk.start,
                        r.chunk.end,
                        r.chunk.lang,
                        json.dumps(r.chunk.sentences),
                        r.tokens,
                        r.vector.astype(np.float32).tobytes(),
                        r.sentence_tokens,
                        r.xtokens,
                    )
                    for r in records
                ],
            )
            _bump_generation(self.conn)

    def stored_paths(self) -> list[tuple[str, str]]:
        """(doc_id, source path) of every stored document."""
        return [
            (str(a), str(b))
            for a, b in self.conn.execute("SELECT doc_id, path FROM documents ORDER BY doc_id")
        ]

    def remove(self, doc_id: str) -> bool:
        """Delete a document and its chunks; ``finish`` then drops them from Chroma."""
        with self.conn:
            _delete_chunks(self.conn, doc_id)
            cur = self.conn.execute("DELETE FROM documents WHERE doc_id=?", (doc_id,))
            _bump_generation(self.conn)
        return bool(cur.rowcount)

    # --- the embedding's IDF table -------------------------------------------------------
    def idf_state(self) -> tuple[np.ndarray | None, int]:
        """The stored n-gram IDF table and the number of chunks it was fitted on."""
        row = self.conn.execute("SELECT value FROM blobs WHERE key='idf'").fetchone()
        fitted = _meta(self.conn, "idf_fitted_on")
        table = np.frombuffer(row[0], dtype=np.float32).copy() if row else None
        return table, int(fitted) if fitted else 0

    def chunk_count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def sample_chunk_texts(self, size: int, batch: int) -> Iterator[list[tuple[str, str]]]:
        """(title, chunk text) of at most ``size`` stored chunks, evenly spread over them in
        ``seq`` order (all of them when there are fewer), ``batch`` at a time: what the IDF
        is fitted on."""
        rows = self.conn.execute("SELECT doc_id, start, end FROM chunks ORDER BY seq").fetchall()
        rows = idf_sample(rows, size)
        for i in range(0, len(rows), batch):
            yield self._texts_of(rows[i : i + batch])

    def _texts_of(self, rows: list[tuple[str, int, int]]) -> list[tuple[str, str]]:
        """(title, text[start:end]) of (doc_id, start, end) rows, each document read once."""
        out: list[tuple[str, str]] = []
        doc: tuple[str, str, str] | None = None
        for doc_id, start, end in rows:
            if doc is None or doc[0] != doc_id:
                title, text = self.conn.execute(
                    "SELECT title, text FROM documents WHERE doc_id=?", (doc_id,)
                ).fetchone()
                doc = (doc_id, title, text)
            out.append((doc[1], doc[2][start:end]))
        return out

    def refit_idf(self, table: np.ndarray, fitted_on: int) -> None:
        """Store a new IDF table and clear every stored vector in one transaction (so no
        stored vector was made with another table); ``vectors_without`` then yields every
        chunk, and Chroma is emptied to be refilled by ``finish``. Readers keep the vectors
        of the segments they serve until the manifest names new ones."""
        with self.conn:
            self.conn.execute(
                "INSERT OR REPLACE INTO blobs VALUES ('idf', ?)",
                (table.astype(np.float32).tobytes(),),
            )
            self.conn.execute(
                "INSERT OR REPLACE INTO meta VALUES ('idf_fitted_on', ?)", (str(fitted_on),)
            )
            self.conn.execute("UPDATE chunks SET vector=x''")
            epoch = int(_meta(self.conn, "vectors_epoch") or "0") + 1
            self.conn.execute(
                "INSERT OR REPLACE INTO meta VALUES ('vectors_epoch', ?)", (str(epoch),)
            )
            _bump_generation(self.conn)
        if self.conn.execute("SELECT 1 FROM chunks WHERE synced=1 LIMIT 1").fetchone():
            self.reset_vectors()

    def vectors_without(self, batch: int) -> Iterator[tuple[list[str], list[tuple[str, str]]]]:
        """Chunks stored without a vector (new ones, or all after ``refit_idf``), a batch at a
        time: (chunk ids, (title, text) of each), in document order."""
        rows = self.conn.execute(
            "SELECT chunk_id, doc_id, start, end FROM chunks WHERE length(vector)=0 "
            "ORDER BY doc_id, ord"
        ).fetchall()
        for i in range(0, len(rows), batch):
            part = rows[i : i + batch]
            yield [r[0] for r in part], self._texts_of([(r[1], r[2], r[3]) for r in part])

    def set_vectors(self, chunk_ids: list[str], vectors: np.ndarray) -> None:
        with self.conn:
            self.conn.executemany(
                "UPDATE chunks SET vector=? WHERE chunk_id=?",
                [
                    (v.tobytes(), cid)
                    for cid, v in zip(chunk_ids, vectors.astype(np.float32), strict=True)
                ],
            )
            _bump_generation(self.conn)

    def current_manifest(self) -> dict[str, Any] | None:
        """The manifest, if the derived indexes it describes are up to date with the store."""
        manifest = _read_manifest(self.dir)
        if manifest is None or _segment_paths(self.dir, manifest) is None:
            return None
        if self._chroma_behind():
            return None
        current = (
            manifest.get("generation") == _generation(self.conn)
            and manifest.get("fingerprint") == self.settings.fingerprint()
            # Pointed at another Chroma (a server now): the vectors must be written there.
            and manifest.get("vectors") == _vectors_target(self.settings)
        )
        return manifest if current else None

    def _chroma_behind(self) -> bool:
        """Whether Chroma lacks chunks or still holds deleted ones (an earlier sync failed)."""
        unsynced = self.conn.execute("SELECT 1 FROM chunks WHERE synced=0 LIMIT 1").fetchone()
        deletes = self.conn.execute("SELECT 1 FROM chroma_deletes LIMIT 1").fetchone()
        return unsynced is not None or deletes is not None

    def reset_vectors(self) -> None:
        """Empty the Chroma collection so ``finish`` refills it from SQLite (after a re-chunk,
        which may reuse chunk ids for other spans).

        Deleted through the client (``vectorstore.drop``), never by removing the folder.
        """
        vectorstore.drop(self.settings)
        with self.conn:
            self.conn.execute("UPDATE chunks SET synced=0 WHERE synced=1")
            self.conn.execute("DELETE FROM chroma_deletes")
            self.conn.execute("DELETE FROM meta WHERE key='chroma_synced'")

    # --- derived indexes -------------------------------------------------------------------
    def finish(self) -> dict[str, Any]:
        """Bring Chroma, BM25, vectors and manifest up to date with SQLite.

        Every write bumped the generation in its own transaction, so a run that dies before
        this point leaves derived indexes whose generation readers see is behind.
        """
        with self.conn:
            gen = _bump_generation(self.conn)
            self.conn.execute(
                "INSERT OR REPLACE INTO meta VALUES ('analyzer', ?)", (analyzer_id(),)
            )
            self.conn.execute(
                "INSERT OR REPLACE INTO meta VALUES ('fingerprint', ?)",
                (self.settings.fingerprint(),),
            )
            self.conn.execute(
                "INSERT OR REPLACE INTO meta VALUES ('embed', ?)",
                (json.dumps(asdict(self.settings.embed)),),
            )
        t0 = time.perf_counter()
        previous = _read_manifest(self.dir)  # read once: it lists every document's hash
        segments = self._write_segments(gen, previous)
        n_chunks = int(self.conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])
        manifest = self._manifest(gen, n_chunks)
        manifest.update(segments)
        tmp = self.dir / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
        tmp.replace(self.dir / MANIFEST)
        _drop_old_segments(self.dir, [manifest, previous])
        # Searchable from here: lexical and exact dense search read the segments. Chroma is
        # brought in step after; SQLite remembers what it still lacks, so a failure here is
        # repaired by the next ingest (current_manifest() checks it), whatever happens.
        t1 = time.perf_counter()
        if segments["delta"] is None:
            release_memory()  # Chroma's index grows in this process: give back what BM25 used
        self._sync_chroma()
        self.timings = {"lexical": t1 - t0, "chroma": time.perf_counter() - t1}
        return manifest

    def _sync_chroma(self) -> None:
        """Make the Chroma collection hold exactly the chunks in SQLite.

        SQLite remembers which chunks were written to Chroma (``synced``) and which were
        deleted since (``chroma_deletes``), in the same transactions as the chunks themselves,
        so a sync sends only the difference: a new article costs its own chunks, not a scan of
        the collection. Where that record cannot be trusted (first sync, another target, a
        count that does not add up), every id is compared. Chunk ids carry the document's
        content hash, so a changed document never keeps its old vectors.
        """
        client = vectorstore.client(self.settings)
        collection = vectorstore.collection(self.settings, client)
        batch = max(1, min(int(client.get_max_batch_size()), 5000))
        target = _vectors_target(self.settings)
        n_store = int(self.conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])
        with vectorstore.reaching(self.settings):
            if _meta(self.conn, "chroma_synced") == target:
                gone = [r[0] for r in self.conn.execute("SELECT chunk_id FROM chroma_deletes")]
                for i in range(0, len(gone), batch):
                    collection.delete(ids=gone[i : i + batch])
                self._add_to_chroma(collection, batch, None)
                if int(collection.count()) == n_store:
                    self._mark_synced(target)
                    return
                log.warning("Chroma holds another count of vectors than SQLite; comparing ids")
            in_chroma = _all_ids(collection, batch)
            in_store = {r[0] for r in self.conn.execute("SELECT chunk_id FROM chunks")}
            extra = sorted(in_chroma - in_store)
            for i in range(0, len(extra), batch):
                collection.delete(ids=extra[i : i + batch])
            self._add_to_chroma(collection, batch, in_store - in_chroma)
        self._mark_synced(target)

    def _mark_synced(self, target: str) -> None:
        with self.conn:
            self.conn.execute("UPDATE chunks SET synced=1 WHERE synced=0")
            self.conn.execute("DELETE FROM chroma_deletes")
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('chroma_synced', ?)", (target,))

    def _add_to_chroma(self, collection: Any, batch: int, chunk_ids: set[str] | None) -> None:
        """Add chunks to Chroma as llama-index TextNodes (vectors and metadata; the text stays
        in SQLite): the given ones, or (None) every chunk not yet synced."""
        from llama_index.core.schema import BaseNode, NodeRelationship, RelatedNodeInfo, TextNode

        if chunk_ids is not None and not chunk_ids:
            return
        nodes: list[BaseNode] = []
        for row in _iter_chunk_rows(self.conn, chunk_ids):
            chunk_id, doc_id, ord_, start, end, lang, source, date, vector = row
            nodes.append(
                TextNode(
                    id_=chunk_id,
                    text="",
                    embedding=np.frombuffer(vector, np.float32).tolist(),
                    start_char_idx=start,
                    end_char_idx=end,
                    metadata={
                        "doc_id": doc_id,
                        "ord": ord_,
                        "lang": lang,
                        "source": source,
                        "date": date,
                    },
                    # llama-index writes ref_doc_id into the "doc_id" metadata.
                    relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=doc_id)},
                )
            )
            if len(nodes) >= batch:
                vectorstore.add_nodes(collection, nodes)
                nodes = []
        vectorstore.add_nodes(collection, nodes)

    def _write_segments(self, generation: int, previous: dict[str, Any] | None) -> dict[str, Any]:
        """Write the lexical indexes and the vectors of this generation into a new folder
        under ``segments/``: the chunks added since the base as a delta when the change is
        small, else a new base over every chunk. Returns the manifest's "base" and "delta".

        Folders are never rewritten in place: a reader holding the previous manifest keeps
        reading the previous folders (the last two manifests' folders are kept)."""
        dim = self.settings.embed.dim
        base = self._current_base(previous)
        if base is not None:
            rows = self.conn.execute(
                "SELECT seq, tokens, xtokens, vector FROM chunks WHERE seq > ? ORDER BY seq",
                (base["max_seq"],),
            ).fetchall()
            kept = self.conn.execute(
                "SELECT COUNT(*) FROM chunks WHERE seq <= ?", (base["max_seq"],)
            ).fetchone()[0]
            deleted = int(base["chunks"]) - int(kept)
            limit = max(DELTA_MIN, int(DELTA_SHARE * int(base["chunks"])))
            if len(rows) + deleted <= limit:
                path = f"{SEGMENTS}/delta-{generation}"
                self._write_delta(base, rows, dim, self.dir / path)
                return {
                    "base": base,
                    "delta": {"path": path, "chunks": len(rows), "deleted": deleted},
                }
        # A new base, streamed from SQLite one leg at a time: no list of every chunk's
        # tokens, and the vectors written into the file in blocks.
        seqs = np.fromiter(
            (r[0] for r in self.conn.execute("SELECT seq FROM chunks ORDER BY seq")),
            dtype=np.int64,
        )
        path = f"{SEGMENTS}/base-{generation}"
        avgdl: dict[str, float] = {}
        with _new_folder(self.dir / path) as folder:
            for name, column in (("bm25", "tokens"), ("xbm25", "xtokens")):
                avgdl[name] = _write_base_bm25(self.conn, folder / name, column, self.settings)
            _write_vectors(self.conn, folder / "vectors.npy", len(seqs), dim)
            np.save(folder / "seq.npy", seqs)
        base = {
            "path": path,
            "generation": generation,
            "chunks": len(seqs),
            "max_seq": int(seqs.max()) if len(seqs) else 0,
            "avgdl": avgdl["bm25"],
            "xavgdl": avgdl["xbm25"],
            "vectors_epoch": _meta(self.conn, "vectors_epoch") or "0",
            "fingerprint": self.settings.fingerprint(),
        }
        return {"base": base, "delta": None}

    def _current_base(self, manifest: dict[str, Any] | None) -> dict[str, Any] | None:
        """The base segment ``manifest`` names, if a delta may be added to it: written by these
        settings, over the vectors as they are (an IDF refit re-embeds every chunk), files
        present."""
        base = manifest.get("base") if manifest else None
        if manifest is None or not isinstance(base, dict):
            return None
        paths = _segment_paths(self.dir, {"base": base})
        if paths is None:
            return None
        if base.get("fingerprint") != self.settings.fingerprint() or base.get("vectors_epoch") != (
            _meta(self.conn, "vectors_epoch") or "0"
        ):
            return None
        return base

    def _write_delta(
        self, base: dict[str, Any], rows: list[tuple[Any, ...]], dim: int, path: Path
    ) -> None:
        k1, b = self.settings.retrieval.bm25_k1, self.settings.retrieval.bm25_b
        seqs = np.array([r[0] for r in rows], dtype=np.int64)
        tokens = [str(r[1]).split() for r in rows]
        xtokens = [str(r[2]).split() for r in rows]
        blobs = b"".join(r[3] for r in rows)
        vectors = np.frombuffer(blobs, dtype=np.float32).reshape(len(rows), dim)
        base_dir = self.dir / str(base["path"])
        with _new_folder(path) as folder:
            for name, toks, avgdl in (
                ("bm25", tokens, float(base["avgdl"])),
                ("xbm25", xtokens, float(base["xavgdl"])),
            ):
                base_segment = lexical.load_segment(base_dir / name)
                delta = lexical.delta_segment(toks, base_segment, k1=k1, b=b, base_avgdl=avgdl)
                delta.save(folder / f"{name}.npz")
            np.save(folder / "vectors.npy", vectors)
            np.save(folder / "seq.npy", seqs)

    def _manifest(self, generation: int, n_chunks: int) -> dict[str, Any]:
        per_lang = dict(self.conn.execute("SELECT lang, COUNT(*) FROM documents GROUP BY lang"))
        hashes = dict(self.conn.execute("SELECT doc_id, content_hash FROM documents"))
        return {
            "format": 1,
            "fingerprint": self.settings.fingerprint(),
            "generation": generation,
            "vectors": _vectors_target(self.settings),
            "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "settings": {
                "chunk": asdict(self.settings.chunk),
                "embed": asdict(self.settings.embed),
            },
            "counts": {"documents": len(hashes), "chunks": n_chunks, "documents_by_lang": per_lang},
            "documents": hashes,
        }


def _vectors_target(settings: Settings) -> str:
    """Where the manifest says the vectors were written: the folder's own Chroma, or a server's
    collection (a changed target means writing them again)."""
    return vectorstore.describe(settings) if settings.store.chroma_url else "embedded"


def _all_ids(collection: Any, batch: int) -> set[str]:
    ids: set[str] = set()
    offset = 0
    while True:
        page = collection.get(include=[], limit=batch, offset=offset)["ids"]
        ids.update(page)
        if len(page) < batch:
            return ids
        offset += batch


def _iter_chunk_rows(
    conn: sqlite3.Connection, chunk_ids: set[str] | None
) -> Iterator[tuple[Any, ...]]:
    """Rows for Chroma of the given chunks (None: those not synced yet)."""
    where = "" if chunk_ids is not None else "WHERE c.synced=0 "
    rows = conn.execute(
        "SELECT c.chunk_id, c.doc_id, c.ord, c.start, c.end, c.lang, d.source, d.date, c.vector "
        f"FROM chunks c JOIN documents d USING(doc_id) {where}ORDER BY c.seq"
    )
    for row in rows:
        if chunk_ids is None or row[0] in chunk_ids:
            yield row


def _delete_chunks(conn: sqlite3.Connection, doc_id: str) -> None:
    """Delete a document's chunks, remembering those Chroma holds (inside the caller's
    transaction)."""
    conn.execute(
        "INSERT OR IGNORE INTO chroma_deletes SELECT chunk_id FROM chunks "
        "WHERE doc_id=? AND synced=1",
        (doc_id,),
    )
    conn.execute("DELETE FROM chunks WHERE doc_id=?", (doc_id,))


def _bump_generation(conn: sqlite3.Connection) -> int:
    """Increment the store's generation inside the caller's transaction."""
    gen = _generation(conn) + 1
    conn.execute("INSERT OR REPLACE INTO meta VALUES ('generation', ?)", (str(gen),))
    return gen


def _load_chunk_arrays(
    conn: sqlite3.Connection, dim: int
) -> tuple[np.ndarray, list[str], list[list[str]], list[list[str]], np.ndarray]:
    seqs: list[int] = []
    ids: list[str] = []
    tokens: list[list[str]] = []
    xtokens: list[list[str]] = []
    blobs: list[bytes] = []
    for seq, chunk_id, toks, xtoks, vector in conn.execute(
        "SELECT seq, chunk_id, tokens, xtokens, vector FROM chunks ORDER BY seq"
    ):
        seqs.append(seq)
        ids.append(chunk_id)
        tokens.append(toks.split())
        xtokens.append(xtoks.split())
        blobs.append(vector)
    return np.array(seqs, dtype=np.int64), ids, tokens, xtokens, _vector_block(blobs, dim)


def release_memory() -> None:
    """Return freed memory to the operating system: Python keeps the arenas of a large step
    (a batch of chunk records, a BM25 build) mapped, and glibc keeps freed heap, so a long
    ingest's resident memory would ratchet up stage after stage."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def idf_sample(items: list[T], size: int) -> list[T]:
    """At most ``size`` of ``items``, evenly spread (every item when there are fewer), in
    order: the same items give the same sample. Spread rather than the first ``size``, since
    an index is often ingested source by source."""
    if len(items) <= size:
        return items
    picks = np.linspace(0, len(items) - 1, size).round().astype(np.int64)
    return [items[i] for i in np.unique(picks)]


def _vector_block(blobs: list[bytes], dim: int) -> np.ndarray:
    """Stored vectors as rows; a chunk stored without one yet (an ingest stopped before its
    vectors were computed) gets zeros: no dense match until the next ingest fills it in."""
    if any(len(b) != dim * 4 for b in blobs):
        blobs = [b if len(b) == dim * 4 else bytes(dim * 4) for b in blobs]
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), dim)


def analyzer_id() -> str:
    """What must match between an index and the code reading it: the analyzer's version and
    the cross-lingual lexicon's digest (a changed lexicon means re-indexing)."""
    from rag import crossling

    return f"{ANALYZER_VERSION}.{crossling.version()}"


def _build_bm25(tokens: list[list[str]], settings: Settings) -> bm25s.BM25 | None:
    """A bm25s index of ``tokens``; None when no chunk has any token (bm25s cannot index it)."""
    if not any(tokens):
        return None
    retriever = bm25s.BM25(k1=settings.retrieval.bm25_k1, b=settings.retrieval.bm25_b)
    retriever.index(tokens, show_progress=False)
    return retriever


def _write_base_bm25(
    conn: sqlite3.Connection, folder: Path, column: str, settings: Settings
) -> float:
    """Write the bm25s index of every chunk's ``column`` (tokens or xtokens), in seq order,
    into ``folder`` (left empty when no chunk has a token); returns the mean length."""
    built, avgdl = lexical.build_base(
        lambda: (row[0] for row in conn.execute(f"SELECT {column} FROM chunks ORDER BY seq")),
        k1=settings.retrieval.bm25_k1,
        b=settings.retrieval.bm25_b,
    )
    if built is not None:
        built.save(str(folder), show_progress=False)
    else:
        folder.mkdir()
    return avgdl


def _write_vectors(conn: sqlite3.Connection, path: Path, n: int, dim: int) -> None:
    """Every chunk's vector, in seq order, into the .npy file at ``path`` a block at a time."""
    if n == 0:
        np.save(path, np.zeros((0, dim), dtype=np.float32))
        return
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, dim))
    cursor = conn.execute("SELECT vector FROM chunks ORDER BY seq")
    row = 0
    while blobs := cursor.fetchmany(8192):
        out[row : row + len(blobs)] = _vector_block([b for (b,) in blobs], dim)
        row += len(blobs)
    if row != n:
        raise IndexDamagedError(f"{path}: {row} vectors for {n} chunks; run the ingest again")
    out.flush()
    del out


@contextmanager
def _new_folder(final: Path) -> Iterator[Path]:
    """A folder filled under a temporary name and renamed into place when complete."""
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    yield tmp
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)


def _writer_active(index_dir: Path) -> bool:
    """Whether an IndexWriter holds the folder's lock now (probed without waiting)."""
    try:
        with (index_dir / ".lock").open("a") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(fh, fcntl.LOCK_UN)
            return False
    except OSError:  # no lock file, or a read-only folder: nobody is writing here
        return False


def _read_manifest(index_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((index_dir / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _segment_paths(index_dir: Path, manifest: dict[str, Any]) -> list[Path] | None:
    """The folders of the manifest's base and delta, or None if one is missing."""
    out = []
    for key in ("base", "delta"):
        entry = manifest.get(key)
        if entry is None and key == "delta":
            continue
        path = entry.get("path") if isinstance(entry, dict) else None
        if not isinstance(path, str) or not path.startswith(SEGMENTS + "/"):
            return None
        if not (index_dir / path).is_dir():
            return None
        out.append(index_dir / path)
    return out


def _drop_old_segments(index_dir: Path, manifests: list[dict[str, Any] | None]) -> None:
    """Remove segment folders no kept manifest names (the current and the previous one, which
    a reader may still be loading), and what an interrupted write left."""
    keep = {
        str(entry["path"]).split("/")[-1]
        for m in manifests
        if m
        for entry in (m.get("base"), m.get("delta"))
        if isinstance(entry, dict) and "path" in entry
    }
    folder = index_dir / SEGMENTS
    if folder.is_dir():
        for child in folder.iterdir():
            if child.name not in keep:
                shutil.rmtree(child, ignore_errors=True)
    for legacy in ("bm25", "xbm25", "bm25.old", "xbm25.old", "vectors.npy"):  # format of 0.1
        path = index_dir / legacy
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists():
            path.unlink()


def _single(index: bm25s.BM25 | None, n: int) -> lexical.LexicalIndex | None:
    """A one-segment lexical index over all ``n`` chunks, in order."""
    return lexical.LexicalIndex([(lexical.Segment.of_bm25s(index), None)], n) if index else None


class IndexReader:
    """Everything a query needs, loaded once; thread-safe for concurrent queries."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.dir = settings.index_dir
        db = self.dir / DB_NAME
        if not db.exists():
            raise IndexNotFoundError(
                f"no index at {self.dir}; build one with `manba ingest PATH --index {self.dir}`"
            )
        self._db_path = db
        try:
            # One read transaction for the reader's life: offsets, tokens and texts all come
            # from one snapshot, whatever a writer commits meanwhile (WAL keeps it readable).
            conn = sqlite3.connect(
                db.resolve().as_uri() + "?mode=ro",
                uri=True,
                check_same_thread=False,
                isolation_level=None,
            )
            conn.execute("BEGIN")
            embed = _meta(conn, "embed")
            analyzer = _meta(conn, "analyzer")
        except sqlite3.DatabaseError as exc:
            raise IndexDamagedError(
                f"the index at {self.dir} cannot be read ({exc}); delete the folder and build "
                f"it again with `manba ingest PATH --index {self.dir}`"
            ) from exc
        self.conn = conn
        if analyzer is not None and analyzer != analyzer_id():
            raise StaleIndexError(
                f"the index at {self.dir} was built with analyzer version {analyzer}, this "
                f"Manba uses {analyzer_id()}; run `manba ingest PATH --index {self.dir}` "
                "(any path, even one already indexed) to re-index the stored documents"
            )
        self.embed_settings = EmbedSettings(**json.loads(embed)) if embed else settings.embed
        stored_fingerprint = _meta(conn, "fingerprint")
        # Built with other index-shaping settings: still searchable (queries use the stored
        # embedding settings), but not what the current settings would build.
        self.stale_settings = stored_fingerprint not in (None, settings.fingerprint())
        has_blobs = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='blobs'"
        ).fetchone()
        idf = (
            conn.execute("SELECT value FROM blobs WHERE key='idf'").fetchone()
            if has_blobs
            else None
        )
        self.idf_table = np.frombuffer(idf[0], dtype=np.float32) if idf else None
        rows = conn.execute(
            "SELECT c.chunk_id, c.doc_id, c.ord, c.start, c.end, c.lang, c.sentences, d.source,"
            " d.date, c.seq FROM chunks c JOIN documents d USING(doc_id) ORDER BY c.seq"
        ).fetchall()
        self.generation = _generation(conn)
        # The derived indexes the manifest names. Written for another generation (an ingest
        # is writing, or one was killed half-way), they still serve: this reader then shows
        # the chunks they cover that its snapshot holds, the state the manifest describes,
        # and never waits for or rebuilds anything. Serving the snapshot instead would show
        # a killed ingest's half-written batch, a state no manifest describes (the next
        # ingest completes it). But a killed ingest that replaced or removed a document has
        # deleted chunks the manifest names: the manifest's state is gone, and serving what is
        # left of it would hide that document; then the reader serves its snapshot, every
        # document whole (rebuilt in memory). While a writer is active the manifest's state
        # serves in any case: a document being replaced is out of sight until it finishes.
        manifest = _read_manifest(self.dir) or {}
        segments = self._segment_seqs(manifest)
        if segments is not None and manifest.get("generation") != self.generation:
            known = np.concatenate(segments)
            seqs = np.array([r[9] for r in rows], dtype=np.int64)
            keep = np.isin(seqs, known)
            writing = _writer_active(self.dir)
            if writing or np.isin(known, seqs).all():
                if not writing:
                    log.warning(
                        "the index at %s has changes an ingest did not finish; serving the "
                        "state its manifest describes. Run `manba ingest PATH --index %s` to "
                        "complete it.",
                        self.dir,
                        self.dir,
                    )
                rows = [r for r, k in zip(rows, keep, strict=True) if k]
            else:
                segments = None  # rebuilt from the snapshot below (_load_derived warns)
        if not rows:
            raise EmptyIndexError(
                f"the index at {self.dir} has no passages; add documents with "
                f"`manba ingest PATH --index {self.dir}`"
            )
        self.chunk_ids = [r[0] for r in rows]
        self.doc_ids = [r[1] for r in rows]
        self.ords = np.array([r[2] for r in rows], dtype=np.int32)
        self.starts = np.array([r[3] for r in rows], dtype=np.int64)
        self.ends = np.array([r[4] for r in rows], dtype=np.int64)
        self.langs = np.array([r[5] for r in rows])
        self._sentences = [r[6] for r in rows]
        self.sources = np.array([r[7].lower() for r in rows])
        self.dates = np.array([r[8] for r in rows])
        self.seqs = np.array([r[9] for r in rows], dtype=np.int64)
        self.position = {cid: i for i, cid in enumerate(self.chunk_ids)}
        self.bm25, self.xbm25, self.vectors = self._load_derived(manifest, segments)
        self._doc_cache: dict[str, tuple[DocInfo, str]] = {}
        self._lock = threading.Lock()

    def _segment_seqs(self, manifest: dict[str, Any]) -> list[np.ndarray] | None:
        """The chunks (SQLite seq) of the manifest's base and delta, or None if unreadable."""
        paths = _segment_paths(self.dir, manifest)
        if paths is None:
            return None
        try:
            return [np.load(path / "seq.npy") for path in paths]
        except (OSError, ValueError) as exc:
            log.info("segments in %s unreadable (%s)", self.dir, exc)
            return None

    def _load_derived(
        self, manifest: dict[str, Any], seqs: list[np.ndarray] | None
    ) -> tuple[lexical.LexicalIndex | None, lexical.LexicalIndex | None, np.ndarray]:
        if seqs is not None:
            try:
                loaded = self._load_segments(manifest, seqs)
            except (OSError, ValueError, KeyError, EOFError) as exc:
                log.info("derived indexes in %s unreadable (%s)", self.dir, exc)
                loaded = None
            if loaded is not None:
                return loaded
        log.warning(
            "derived indexes in %s are missing or do not match the store (an ingest did not "
            "finish); rebuilding them in memory. Run `manba ingest PATH --index %s` to write "
            "them again.",
            self.dir,
            self.dir,
        )
        all_seqs, _, tokens, xtokens, vectors = _load_chunk_arrays(
            self.conn, self.embed_settings.dim
        )
        keep = np.isin(all_seqs, self.seqs)
        if not keep.all():
            tokens = [t for t, k in zip(tokens, keep, strict=True) if k]
            xtokens = [t for t, k in zip(xtokens, keep, strict=True) if k]
            vectors = vectors[keep]
        n = len(self.seqs)
        return (
            _single(_build_bm25(tokens, self.settings), n),
            _single(_build_bm25(xtokens, self.settings), n),
            vectors,
        )

    def _load_segments(
        self, manifest: dict[str, Any], seqs: list[np.ndarray]
    ) -> tuple[lexical.LexicalIndex | None, lexical.LexicalIndex | None, np.ndarray] | None:
        """The base segment and the delta named by ``manifest``, mapped to this reader's
        chunks; None when they do not cover exactly those chunks."""
        paths = _segment_paths(self.dir, manifest)
        if paths is None or len(paths) != len(seqs):
            return None
        n = len(self.chunk_ids)
        positions = [lexical.positions_of(part, self.seqs) for part in seqs]
        # Every chunk of this reader exactly once across the segments, or they are not ours.
        covered = np.zeros(n, dtype=np.int64)
        for part, where in zip(seqs, positions, strict=True):
            np.add.at(covered, np.arange(len(part)) if where is None else where[where >= 0], 1)
        if not (covered == 1).all():
            return None
        vectors: np.ndarray | None = None
        indexes: dict[str, list[tuple[lexical.Segment, np.ndarray | None]]] = {
            "bm25": [],
            "xbm25": [],
        }
        for i, (path, part, where) in enumerate(zip(paths, seqs, positions, strict=True)):
            # Memory-mapped: shared by every process serving this index; copied only when
            # a delta or a deletion means rows must move.
            block = np.load(path / "vectors.npy", mmap_mode="r")
            if len(block) != len(part):
                return None
            if where is None and len(paths) == 1:
                vectors = block  # the base alone, rows in place: no copy
            else:
                if vectors is None:
                    vectors = np.zeros((n, block.shape[1]), dtype=np.float32)
                if where is None:
                    vectors[:] = block
                else:
                    alive = where >= 0
                    vectors[where[alive]] = block[alive]
            for name in indexes:
                segment = (
                    lexical.load_segment(path / name)
                    if i == 0
                    else lexical.Segment.load(path / f"{name}.npz")
                )
                if segment is not None and segment.n_docs != len(part):
                    return None
                if segment is not None:
                    indexes[name].append((segment, where))
        if vectors is None:
            return None
        bm25, xbm25 = (
            lexical.LexicalIndex(parts, n) if parts else None for parts in indexes.values()
        )
        return bm25, xbm25, vectors

    def doc(self, doc_id: str) -> tuple[DocInfo, str]:
        """A document's info and original text (one SQLite connection, shared under a lock)."""
        with self._lock:
            return self._doc(doc_id)

    def _doc(self, doc_id: str) -> tuple[DocInfo, str]:
        if doc_id not in self._doc_cache:
            row = self.conn.execute(
                "SELECT title, path, lang, source, date, text FROM documents WHERE doc_id=?",
                (doc_id,),
            ).fetchone()
            if row is None:
                raise KeyError(doc_id)
            info = DocInfo(doc_id, row[0], row[1], row[2], row[3], row[4])
            if len(self._doc_cache) > 2048:
                self._doc_cache.clear()
            self._doc_cache[doc_id] = (info, row[5])
        return self._doc_cache[doc_id]

    def sentence_tokens(self, i: int) -> list[list[str]]:
        """Analyzed tokens of each sentence of chunk ``i``, as stored at ingest."""
        with self._lock:
            row = self.conn.execute(
                "SELECT sentence_tokens FROM chunks WHERE chunk_id=?", (self.chunk_ids[i],)
            ).fetchone()
        return [list(t) for t in json.loads(row[0])] if row else []

    def chunk(self, i: int) -> Chunk:
        """The chunk at position ``i``, with its text sliced from the stored original."""
        _, text = self.doc(self.doc_ids[i])
        start, end = int(self.starts[i]), int(self.ends[i])
        sentences = tuple((int(a), int(b)) for a, b in json.loads(self._sentences[i]))
        return Chunk(
            self.chunk_ids[i],
            self.doc_ids[i],
            int(self.ords[i]),
            start,
            end,
            text[start:end],
            str(self.langs[i]),
            sentences,
        )

    def documents(self) -> list[DocInfo]:
        with self._lock:
            rows = self.conn.execute(
                "SELECT doc_id, title, path, lang, source, date FROM documents ORDER BY doc_id"
            ).fetchall()
        return [DocInfo(*r) for r in rows]

    def catalog(self) -> list[DocRow]:
        """Every document with its chunk count, length and indexing time (by doc_id)."""
        with self._lock:
            rows = self.conn.execute(
                "SELECT d.doc_id, d.title, d.path, d.lang, d.source, d.date,"
                " (SELECT COUNT(*) FROM chunks c WHERE c.doc_id = d.doc_id),"
                " length(d.text), d.indexed_at FROM documents d ORDER BY d.doc_id"
            ).fetchall()
        return [DocRow(DocInfo(*r[:6]), int(r[6]), int(r[7]), float(r[8])) for r in rows]

    def close(self) -> None:
        self.conn.close()


@contextmanager
def writer(settings: Settings) -> Iterator[IndexWriter]:
    w = IndexWriter(settings)
    try:
        yield w
    finally:
        w.close()
