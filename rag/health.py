"""Is the embedded Chroma store usable? Checked in a child process, quarantined when not.

Chroma's embedded store can be left unopenable by a process killed while it wrote (an HNSW
load error, or a segfault on every open: PITFALLS.md, 2 stores in 220 SIGKILLs). A crash in
its Rust code would take the calling process with it, so the check opens the store in a child
process with a timeout: a segfault, an exception or a hang there only says "broken". A broken
store is moved aside (``chroma.broken-<UTC time>``, never deleted: it may be wanted for a bug
report) and SQLite's record of what Chroma holds is reset, so the next ``finish`` (any
``manba ingest``, or ``manba doctor``) refills a new collection from SQLite, the source of
truth.

When it runs (never on a question: exact dense search, the default, reads the segments):

- when a writer opens the index (``IndexWriter``, under the lock), but only if the store's
  files changed since they were last known good (a stamp of names, sizes and modification
  times, written when a writer closes with Chroma in step, and after each passed check);
  after a clean ingest the check is skipped, after a killed one it runs;
- always in ``manba doctor``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag import vectorstore
from rag.config import Settings

log = logging.getLogger(__name__)

STAMP = "chroma.verified.json"
QUARANTINE_PREFIX = "chroma.broken-"
# Seconds the child may take to open the store and query it. A healthy store of 109k vectors
# opens in a few seconds; a link_lists.bin of terabytes (a damaged header) may never finish.
TIMEOUT = 60.0
PROBES = 3  # stored vectors looked up in the HNSW index: a healthy one finds itself

_CHILD = r"""
import json, sys
import chromadb
from chromadb.config import Settings
from chromadb.errors import NotFoundError

path, name = sys.argv[1], sys.argv[2]
probes = json.loads(sys.stdin.read() or "[]")
client = chromadb.PersistentClient(
    path=path, settings=Settings(anonymized_telemetry=False, allow_reset=True)
)
try:
    collection = client.get_collection(name)
except NotFoundError:
    print(json.dumps({"collection": False, "count": 0}))
    sys.exit(0)
count = int(collection.count())
out = {"collection": True, "count": count, "probes": len(probes), "found": 0}
if count:
    collection.get(limit=min(count, 8), include=["metadatas"])
    if probes:
        res = collection.query(
            query_embeddings=[p[1] for p in probes],
            n_results=min(count, 10),
            include=["distances"],
        )
        out["found"] = sum(p[0] in ids for p, ids in zip(probes, res["ids"]))
    else:
        collection.query(query_embeddings=[[1.0] + [0.0] * (int(sys.argv[3]) - 1)], n_results=1)
print(json.dumps(out))
"""


@dataclass(frozen=True)
class Health:
    """The outcome of a check: ``ok``, and what was found (for logs and ``manba doctor``)."""

    ok: bool
    detail: str
    count: int | None = None  # vectors in the collection (None: unknown, or no collection)
    seconds: float = 0.0
    checked: bool = True  # False: skipped, the files are as they were last known good


def chroma_dir(settings: Settings) -> Path:
    return settings.index_dir / "chroma"


def stamp(folder: Path) -> str:
    """A digest of the names, sizes and modification times of the files under ``folder``."""
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        try:
            st = path.stat()
        except OSError:  # vanished while listing
            continue
        if path.is_file():
            h.update(f"{path.relative_to(folder)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _stamp_matches(settings: Settings) -> bool:
    try:
        data = json.loads((settings.index_dir / STAMP).read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("stamp") == stamp(chroma_dir(settings))


def remember_good(settings: Settings) -> None:
    """Record the store's files as known good (after a passed check or a clean write)."""
    folder = chroma_dir(settings)
    if settings.store.chroma_url or not folder.is_dir():
        return
    tmp = settings.index_dir / (STAMP + ".tmp")
    tmp.write_text(json.dumps({"stamp": stamp(folder), "at": time.time()}), encoding="utf-8")
    tmp.replace(settings.index_dir / STAMP)


def _probes(conn: sqlite3.Connection | None, dim: int) -> list[tuple[str, list[float]]]:
    """A few chunks SQLite says Chroma holds, with their stored vectors."""
    if conn is None:
        return []
    try:
        rows = conn.execute(
            "SELECT chunk_id, vector FROM chunks WHERE synced=1 ORDER BY seq DESC LIMIT ?",
            (PROBES,),
        ).fetchall()
    except sqlite3.DatabaseError:
        return []
    import numpy as np

    out = []
    for chunk_id, blob in rows:
        vector = np.frombuffer(blob, dtype=np.float32)
        if len(vector) == dim and vector.any():
            out.append((str(chunk_id), [float(x) for x in vector]))
    return out


def check(settings: Settings, conn: sqlite3.Connection | None = None) -> Health:
    """Open the embedded store in a child process and query it; ``ok`` False if the child
    crashed, raised, timed out, or the HNSW index found none of the probe vectors (stored
    vectors of chunks SQLite says Chroma holds) among their own nearest neighbours."""
    folder = chroma_dir(settings)
    if settings.store.chroma_url:
        return Health(True, "vectors on a Chroma server (checked by `manba doctor`)", None, 0.0)
    if not folder.is_dir():
        return Health(True, f"no Chroma store at {folder} yet", None, 0.0)
    probes = _probes(conn, settings.embed.dim)
    t0 = time.perf_counter()
    odd = _implausible_file(folder, _synced(conn) if conn is not None else 0)
    if odd:
        return Health(False, odd, None, time.perf_counter() - t0)
    env = dict(os.environ, ANONYMIZED_TELEMETRY="False")
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                _CHILD,
                str(folder),
                vectorstore.collection_name(settings),
                str(settings.embed.dim),
            ],
            input=json.dumps(probes),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return Health(
            False, f"opening it did not finish in {TIMEOUT:.0f} s", None, time.perf_counter() - t0
        )
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        if proc.returncode < 0:
            why = f"the process opening it was killed by signal {-proc.returncode}"
        else:
            lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
            why = f"opening it failed: {lines[-1][:300] if lines else f'exit {proc.returncode}'}"
        return Health(False, why, None, seconds)
    try:
        out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return Health(False, f"the check printed no result ({proc.stdout[-200:]!r})", None, seconds)
    if not out.get("collection"):
        return Health(True, "no collection in the store", None, seconds)
    count = int(out["count"])
    if out.get("probes") and not out.get("found"):
        return Health(
            False,
            f"its HNSW index found none of {out['probes']} stored vectors among their nearest "
            "neighbours",
            count,
            seconds,
        )
    return Health(True, f"{count} vector(s), opened and queried in {seconds:.1f} s", count, seconds)


def _implausible_file(folder: Path, vectors: int) -> str | None:
    """A file Chroma would not write: mostly holes (sparse), or larger than any HNSW index of
    the collection's size (a ``link_lists.bin`` of terabytes came with a segfault on every
    open). Found from the sizes alone, without opening anything."""
    limit = max(1 << 30, (vectors + 1) * (64 << 10))
    for path in folder.rglob("*"):
        try:
            st = path.stat()
        except OSError:
            continue
        if not path.is_file() or st.st_size < (64 << 20):
            continue
        on_disk = st.st_blocks * 512
        if st.st_size > limit or st.st_size > 16 * max(on_disk, 1):
            return (
                f"{path.relative_to(folder)} has an apparent size of {st.st_size:,} bytes "
                f"({on_disk:,} on disk), implausible for {vectors} vector(s)"
            )
    return None


def _synced(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM chunks WHERE synced=1").fetchone()[0])


def forget_synced(conn: sqlite3.Connection) -> None:
    """SQLite's record of Chroma's content, reset: the next sync compares every id and adds
    what the collection lacks (``IndexWriter._sync_chroma``), and until then the manifest is
    not current (``IndexWriter.current_manifest``), so any ingest brings Chroma in step."""
    with conn:
        conn.execute("UPDATE chunks SET synced=0 WHERE synced=1")
        conn.execute("DELETE FROM chroma_deletes")
        conn.execute("DELETE FROM meta WHERE key='chroma_synced'")


def quarantine(settings: Settings, conn: sqlite3.Connection, why: str) -> Path:
    """Move the store aside and reset SQLite's record of it (in that order of safety: SQLite
    first, so a crash in between leaves a store that is checked, and moved, again)."""
    folder = chroma_dir(settings)
    forget_synced(conn)
    stamp_utc = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = folder.with_name(QUARANTINE_PREFIX + stamp_utc)
    n = 1
    while target.exists():
        n += 1
        target = folder.with_name(f"{QUARANTINE_PREFIX}{stamp_utc}-{n}")
    _forget_client(folder)
    folder.rename(target)
    (settings.index_dir / STAMP).unlink(missing_ok=True)
    log.warning(
        "the Chroma store at %s is damaged (%s); moved it to %s and rebuilding it from SQLite "
        "(the source of truth). The moved folder can be deleted.",
        folder,
        why,
        target,
    )
    return target


def _forget_client(folder: Path) -> None:
    """Drop this process's cached Chroma client of ``folder`` (Chroma keeps one per path, and
    that one would go on writing into the moved files)."""
    if "chromadb" not in sys.modules:
        return
    from chromadb.api.shared_system_client import SharedSystemClient

    for key in list(SharedSystemClient._identifier_to_system):
        if key and Path(key).resolve() == folder.resolve():
            SharedSystemClient._identifier_to_system.pop(key, None)
            SharedSystemClient._identifier_to_refcount.pop(key, None)


@dataclass(frozen=True)
class Repair:
    """What ``ensure`` did: the check (None: not needed) and the quarantine folder, if any."""

    health: Health | None
    moved_to: Path | None = None


def ensure(settings: Settings, conn: sqlite3.Connection, *, force: bool = False) -> Repair:
    """Under the writer's lock: check the embedded store unless its files are as last known
    good (``force``: always), quarantine it when broken. Also notices a store that is gone
    or holds another count of vectors than SQLite says it was sent, and resets SQLite's record
    so the next sync compares ids."""
    folder = chroma_dir(settings)
    if settings.store.chroma_url:
        return Repair(None)
    if not folder.is_dir():
        if _synced(conn):
            log.warning("the Chroma store %s is missing; it is rebuilt from SQLite", folder)
            forget_synced(conn)
        return Repair(None)
    if not force and _stamp_matches(settings):
        return Repair(None)
    health = check(settings, conn)
    log.info("Chroma store %s: %s (%.2f s)", folder, health.detail, health.seconds)
    if not health.ok:
        return Repair(health, quarantine(settings, conn, health.detail))
    expected = _synced(conn) + int(
        conn.execute("SELECT COUNT(*) FROM chroma_deletes").fetchone()[0]
    )
    if (health.count or 0) != expected:
        log.warning(
            "the Chroma store %s holds %d vector(s), SQLite recorded %d; comparing ids at the "
            "next sync",
            folder,
            health.count or 0,
            expected,
        )
        forget_synced(conn)
    remember_good(settings)
    return Repair(health)


def on_close(settings: Settings, conn: sqlite3.Connection) -> None:
    """When a writer closes: if SQLite says Chroma is in step, its files are known good."""
    if settings.store.chroma_url or not chroma_dir(settings).is_dir():
        return
    try:
        behind = conn.execute("SELECT 1 FROM chunks WHERE synced=0 LIMIT 1").fetchone()
        deletes = conn.execute("SELECT 1 FROM chroma_deletes LIMIT 1").fetchone()
    except sqlite3.DatabaseError:
        return
    if behind is None and deletes is None:
        remember_good(settings)
