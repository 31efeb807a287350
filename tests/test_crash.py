"""SIGKILL during ingest: the index always opens and serves the state its manifest describes
(the previous complete state or the new one, never a half-written batch), and re-running the
ingest completes it, Chroma included (a store the kill broke is quarantined and rebuilt).

The killed process is an ingest forked from a "zygote" that imported Manba once, so 20 rounds
of kill, check and re-run fit in about a minute; every check runs in a fresh process forked
from the same zygote (never the killed one, never one that had the index open). One test kills
a real ``manba ingest`` subprocess and shows a second writer failing at once meanwhile.

``MANBA_CRASH_LONG=1`` runs the longer version (60 kills, batches of 300 documents);
``MANBA_CRASH_KILLS`` sets the number of kills.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from rag.config import Settings
from rag.indexing import index_paths, make_records
from rag.ingest import iter_sources
from rag.store import _writer_active
from rag.types import SourceDoc
from rag.workers import _chunker

pytestmark = pytest.mark.filterwarnings(
    "ignore:legacy embedding function config:DeprecationWarning"
)

ROOT = Path(__file__).resolve().parent.parent
MANBA = ROOT / ".venv" / "bin" / "manba"
LONG = os.environ.get("MANBA_CRASH_LONG") == "1"
KILLS = int(os.environ.get("MANBA_CRASH_KILLS") or (60 if LONG else 20))
BATCH = 300 if LONG else 60
SEED = 20261201
# Every POOL_EVERY-th round (every round in the long version) the ingest uses its worker
# processes, as `manba ingest` of 24 files or more does; the others chunk and analyze in the
# ingest process itself, which writes the index the same way and starts 2-3 s sooner.
POOL_EVERY = 5

# --- a corpus from real-word templates ----------------------------------------------------------

CITIES = {
    "fa": ["تهران", "اصفهان", "شیراز", "تبریز", "مشهد", "کرمان", "یزد", "رشت", "اهواز", "کرج"],
    "ar": ["القاهرة", "بغداد", "دمشق", "بيروت", "عمّان", "الرياض", "تونس", "الدوحة", "الجزائر"],
    "en": ["London", "Paris", "Berlin", "Madrid", "Rome", "Vienna", "Lisbon", "Dublin", "Oslo"],
}
TEMPLATES = {
    "fa": [
        "شهرداری {c} اعلام کرد که ساخت {n} مدرسه تازه تا پایان سال به پایان می‌رسد.",
        "بارش شدید باران در {c} باعث شد {n} خانه آسیب ببیند و جاده‌ها بسته شوند.",
        "نمایشگاه کتاب {c} امسال با حضور {n} ناشر برگزار شد و بازدیدکنندگان زیادی داشت.",
        "وزیر نیرو در سفر به {c} گفت مصرف آب در تابستان {n} درصد کاهش یافته است.",
        "قیمت نان در بازار {c} پس از افزایش هزینه آرد {n} درصد بالا رفت.",
    ],
    "ar": [
        "أعلنت بلدية {c} أن بناء {n} مدرسة جديدة سينتهي قبل نهاية العام.",
        "تسببت الأمطار الغزيرة في {c} بتضرر {n} منزلا وإغلاق عدد من الطرق.",
        "افتتح معرض {c} للكتاب هذا العام بمشاركة {n} دار نشر وسط إقبال كبير.",
        "قال وزير الطاقة خلال زيارته إلى {c} إن استهلاك المياه انخفض بنسبة {n} في المئة.",
        "ارتفع سعر الخبز في أسواق {c} بنسبة {n} في المئة بعد زيادة كلفة الطحين.",
    ],
    "en": [
        "The city council of {c} said {n} new schools will be finished before the end of the year.",
        "Heavy rain in {c} damaged {n} houses and closed several roads on Tuesday.",
        "The {c} book fair opened this year with {n} publishers and large crowds.",
        "The energy minister said during a visit to {c} that water use fell by {n} percent.",
        "The price of bread in {c} markets rose {n} percent after flour costs increased.",
    ],
}
QUERIES = ["قیمت نان در بازار شیراز", "أسعار الخبز في بغداد", "heavy rain damaged houses in Rome"]


def make_corpus(
    folder: Path,
    n: int,
    *,
    seed: int,
    prefix: str = "",
    sentences: tuple[int, int] = (6, 14),
    numbers: int = 900,
) -> list[str]:
    """``n`` news-like .txt files in fa, ar and en (a third each); returns their names."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(n):
        lang = ("fa", "ar", "en")[i % 3]
        cities = CITIES[lang]
        body = " ".join(
            rng.choice(TEMPLATES[lang]).format(c=rng.choice(cities), n=rng.randint(2, numbers))
            for _ in range(rng.randint(*sentences))
        )
        name = f"{prefix}{lang}_{i:04d}.txt"
        (folder / name).write_text(f"{rng.choice(cities)} {prefix}{i}\n\n{body}\n", "utf-8")
        names.append(name)
    return names


def expected_chunks(folder: Path, settings: Settings) -> set[str]:
    """The chunk ids an ingest of ``folder`` must store (they depend on the text alone)."""
    chunker = _chunker(settings.chunk)
    ids: set[str] = set()
    for doc in iter_sources([folder]):
        assert isinstance(doc, SourceDoc), doc
        ids.update(r.chunk.chunk_id for r in make_records(doc, chunker))
    return ids


# --- the zygote: imports once, forks an ingest or a check per request -----------------------------

_ZYGOTE = r"""
import json, os, sys, time, traceback
from pathlib import Path
import chromadb, llama_index.core  # noqa: F401  (imported once, before any fork)
import rag.cli, rag.engine, rag.indexing, rag.store, rag.workers  # noqa: F401

def ingest(req):
    from rag.config import Settings
    from rag.indexing import index_paths
    stages = open(req["stages"], "a", buffering=1)
    t0 = time.monotonic()
    def progress(p):
        stages.write(f"{time.monotonic() - t0:.3f} {p.stage} {p.done} {p.total}\n")
    if not req.get("pool", True):  # chunking and analysis in this process, not in workers
        import rag.workers
        rag.workers.MIN_DOCS = rag.workers.MIN_TEXTS = 10**9
    settings = Settings().with_index(Path(req["index"]))
    report = index_paths([req["path"]], settings, progress=progress)
    stages.write(f"{time.monotonic() - t0:.3f} done 1 1\n")
    out = {"stages": report.stages, "ok": report.ok}
    if req.get("chroma"):
        # Read through this process's client, already open: a new one would apply Chroma's
        # log to its files and change them.
        from rag import vectorstore
        collection = vectorstore.collection(settings)
        out["chroma_count"] = int(collection.count())
        out["chroma_ids"] = sorted(collection.get(include=[])["ids"])
    Path(req["out"]).write_text(json.dumps(out))
    return 0 if report.ok else 1

def check(req):
    import sqlite3
    from rag.config import Settings
    from rag.engine import Engine
    index = Path(req["index"])
    settings = Settings().with_index(index)
    manifest = json.loads((index / "manifest.json").read_text("utf-8"))
    engine = Engine(settings)
    reader = engine.reader
    out = {
        "manifest_generation": manifest["generation"],
        "manifest_chunks": manifest["counts"]["chunks"],
        "manifest_docs": sorted(manifest["documents"]),
        "served_chunks": len(reader.chunk_ids),
        "served_docs": sorted(set(reader.doc_ids)),
        "vectors": int(reader.vectors.shape[0]),
        "hits": [],
        "bad_quotes": 0,
    }
    served = set(reader.doc_ids)
    for q in req["queries"]:
        hits = engine.search(q, k=5)
        out["hits"].append(len(hits))
        for h in hits:
            text = reader.doc(h.chunk.doc_id)[1]
            if h.chunk.doc_id not in served or text[h.chunk.start:h.chunk.end] != h.chunk.text:
                out["bad_quotes"] += 1
    answer = engine.ask(req["queries"][-1])
    out["citations"] = len(answer.citations)
    engine.close()
    if req.get("full"):
        conn = sqlite3.connect(index / "manba.sqlite3")
        out["sqlite_chunks"] = sorted(r[0] for r in conn.execute("SELECT chunk_id FROM chunks"))
        out["sqlite_generation"] = int(
            conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0]
        )
        out["unsynced"] = conn.execute("SELECT COUNT(*) FROM chunks WHERE synced=0").fetchone()[0]
        out["pending_deletes"] = conn.execute("SELECT COUNT(*) FROM chroma_deletes").fetchone()[0]
        conn.close()
    Path(req["out"]).write_text(json.dumps(out, ensure_ascii=False))
    return 0

def main():
    for line in sys.stdin:
        req = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 70
            try:
                os.setpgid(0, 0)
                fd = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
                os.dup2(fd, 1)
                os.dup2(fd, 2)
                null = os.open(os.devnull, os.O_RDONLY)
                os.dup2(null, 0)
                import logging
                logging.basicConfig(
                    level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
                )
                code = {"ingest": ingest, "check": check}[req["op"]](req)
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"pid": pid, "status": status}), flush=True)

main()
"""


class Zygote:
    """A process that imported Manba once and forks a fresh child per request."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir
        self.n = 0
        env = dict(os.environ, ANONYMIZED_TELEMETRY="False")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _ZYGOTE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=workdir,
        )

    def start(self, op: str, **req: Any) -> tuple[int, dict[str, Path]]:
        self.n += 1
        files = {k: self.dir / f"{self.n:03d}-{op}.{k}" for k in ("log", "out", "stages")}
        req.update({"op": op, **{k: str(v) for k, v in files.items()}})
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(req, ensure_ascii=False) + "\n")
        self.proc.stdin.flush()
        return int(json.loads(self.proc.stdout.readline())["pid"]), files

    def wait(self) -> int:
        """The raw wait status of the last child started."""
        assert self.proc.stdout is not None
        return int(json.loads(self.proc.stdout.readline())["status"])

    def run(self, op: str, **req: Any) -> dict[str, Any]:
        _, files = self.start(op, **req)
        status = self.wait()
        log = files["log"].read_text("utf-8", "replace") if files["log"].exists() else ""
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, f"{op} failed:\n{log}"
        result: dict[str, Any] = json.loads(files["out"].read_text("utf-8"))
        result["log"] = log
        return result

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


# --- the kill test ------------------------------------------------------------------------------


@dataclass
class Kill:
    """One SIGKILL: when (seconds after the fork), in which stage, and what the checks saw."""

    round: int
    plan: str
    at: float
    stage: str = ""
    served: str = ""  # "old" or "new"
    quarantined: int = 0
    pool: bool = False
    problems: list[str] = field(default_factory=list)


def _stage(stages_file: Path, manifest_changed: bool) -> str:
    """The stage an ingest was in, from the last progress line it wrote."""
    lines = stages_file.read_text("utf-8").split("\n") if stages_file.exists() else []
    last = [ln.split() for ln in lines if ln.strip()]
    if not last:
        return "open"  # settings, writer lock, Chroma health, file count
    _, stage, done, total = last[-1]
    if stage == "read":
        return "analyze" if done == total else "read"
    if stage == "index":
        return "store"
    if stage == "finish":
        return "chroma" if manifest_changed else "segments"
    return stage


def _manifest_gen(index: Path) -> int:
    try:
        return int(json.loads((index / "manifest.json").read_text("utf-8"))["generation"])
    except (OSError, ValueError, KeyError):
        return -1


def _timeline(stages_file: Path) -> dict[str, float]:
    """Seconds after the fork at which each stage was first reported."""
    out: dict[str, float] = {}
    for line in stages_file.read_text("utf-8").splitlines():
        t, stage, done, total = line.split()
        key = "analyze" if stage == "read" and done == total else stage
        out.setdefault(key, float(t))
    return out


def _plan(n: int, total: float, store_secs: float, chroma_secs: float) -> list[tuple[str, float]]:
    """Seeded kill times: a quarter at the start of the Chroma stage plus a random part of it
    (where a kill can break Chroma's store), a fifth in the same way in the stage writing the
    documents to SQLite (where a kill leaves a half-written batch), the rest spread over the
    whole run, one random time in each of equal slices of it."""
    rng = random.Random(SEED)
    n_chroma = max(1, n // 4)
    n_store = max(1, n // 5)
    n_time = n - n_chroma - n_store
    plan = [("time", total * (j + rng.random()) / n_time * 0.97) for j in range(n_time)]
    plan += [("chroma", rng.uniform(0.0, 0.9) * chroma_secs) for _ in range(n_chroma)]
    plan += [("store", rng.uniform(0.0, 0.9) * store_secs) for _ in range(n_store)]
    rng.shuffle(plan)
    return plan


def _check_state(
    kill: Kill, state: dict[str, Any], old: set[str], new: set[str], old_chunks: int
) -> None:
    p = kill.problems
    served = set(state["served_docs"])
    if state["served_chunks"] != state["manifest_chunks"]:
        p.append(f"serves {state['served_chunks']} chunks, manifest {state['manifest_chunks']}")
    if served != set(state["manifest_docs"]):
        p.append(f"serves {len(served)} documents, manifest {len(state['manifest_docs'])}")
    if state["vectors"] != state["served_chunks"]:
        p.append(f"{state['vectors']} vectors for {state['served_chunks']} chunks")
    if served == old:
        kill.served = "old"
        if state["served_chunks"] != old_chunks:
            p.append(f"old documents but {state['served_chunks']} chunks, not {old_chunks}")
    elif served == new:
        kill.served = "new"
    else:
        p.append(f"a mix: {len(served & old)} old and {len(served - old)} new documents")
    if not all(state["hits"]) or state["bad_quotes"] or not state["citations"]:
        p.append(f"search: hits {state['hits']}, bad quotes {state['bad_quotes']}")


def _check_complete(
    kill: Kill, state: dict[str, Any], docs: set[str], chunks: set[str], what: str
) -> None:
    p = kill.problems
    if set(state["manifest_docs"]) != docs or set(state["served_docs"]) != docs:
        p.append(f"{what}: {len(state['served_docs'])} documents, want {len(docs)}")
    if set(state["sqlite_chunks"]) != chunks:
        p.append(f"{what}: {len(state['sqlite_chunks'])} chunks in SQLite, want {len(chunks)}")
    if state["served_chunks"] != len(chunks) or state["manifest_chunks"] != len(chunks):
        p.append(f"{what}: serves {state['served_chunks']} chunks, want {len(chunks)}")
    if state["chroma_count"] != len(chunks) or set(state["chroma_ids"]) != chunks:
        p.append(f"{what}: Chroma holds {state['chroma_count']} vectors, want {len(chunks)}")
    if state["unsynced"] or state["pending_deletes"]:
        p.append(f"{what}: {state['unsynced']} unsynced, {state['pending_deletes']} deletes")
    if state["sqlite_generation"] != state["manifest_generation"]:
        p.append(f"{what}: generation {state['sqlite_generation']} != manifest's")
    if not all(state["hits"]) or state["bad_quotes"] or not state["citations"]:
        p.append(f"{what}: search hits {state['hits']}, bad quotes {state['bad_quotes']}")


def test_sigkill_at_random_points_of_an_ingest(tmp_path: Path) -> None:
    started = time.monotonic()
    index = tmp_path / "index"
    settings = Settings().with_index(index)
    work = tmp_path / "zygote"
    work.mkdir()
    zygote = Zygote(work)
    try:
        # Round 0, never killed: the base state, and the timeline the kills are spread over.
        base = tmp_path / "b00"
        docs = set(make_corpus(base, BATCH, seed=SEED, prefix="b00_"))
        chunks = expected_chunks(base, settings)
        _, files = zygote.start("ingest", index=str(index), path=str(base), pool=LONG)
        t0 = time.monotonic()
        assert zygote.wait() == 0, files["log"].read_text("utf-8")
        total = time.monotonic() - t0
        times = _timeline(files["stages"])
        chroma_secs = max(0.05, total - times.get("finish", total) - 0.1)
        store_secs = max(0.05, times.get("finish", total) - times.get("index", 0.0))
        # A kill that comes after the ingest finished is not one: a few spare rounds.
        plan = _plan(KILLS + 5, total, store_secs, chroma_secs)
        print(f"\none ingest: {total:.2f} s, stages at {times}")
        kills: list[Kill] = []
        for r, (how, delay) in enumerate(plan, start=1):
            if sum(k.stage != "done" for k in kills) == KILLS:
                break
            folder = tmp_path / f"b{r:02d}"
            names = make_corpus(folder, BATCH, seed=SEED + r, prefix=f"b{r:02d}_")
            old, new = set(docs), docs | set(names)
            old_chunks = len(chunks)
            new_chunks = chunks | expected_chunks(folder, settings)
            gen_before = _manifest_gen(index)
            broken_before = len(list(tmp_path.glob("index/chroma.broken-*")))
            pool = LONG or r % POOL_EVERY == 0
            pid, files = zygote.start("ingest", index=str(index), path=str(folder), pool=pool)
            t = time.monotonic()
            kill_at = t + delay if how == "time" else None
            while True:
                now = time.monotonic()
                if kill_at is None and how == "chroma" and _manifest_gen(index) != gen_before:
                    kill_at = now + delay  # the manifest is out: Chroma is being written
                if kill_at is None and how == "store" and _stage(files["stages"], False) == "store":
                    kill_at = now + delay  # documents are being written to SQLite
                if kill_at is not None and now >= kill_at:
                    break
                if now - t > 120:
                    break
                time.sleep(0.002)
            manifest_changed = _manifest_gen(index) != gen_before
            with contextlib.suppress(ProcessLookupError):  # finished and reaped already
                os.kill(pid, signal.SIGKILL)
            status = zygote.wait()
            kill = Kill(r, how, round(time.monotonic() - t, 3), pool=pool)
            if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
                kill.stage = _stage(files["stages"], manifest_changed)
            else:
                kill.stage = "done"  # finished before the signal came: not a kill
            kills.append(kill)
            state = zygote.run("check", index=str(index), queries=QUERIES)
            _check_state(kill, state, old, new, old_chunks)
            # Re-run: completes the batch (and rebuilds a Chroma store the kill broke).
            done = zygote.run("ingest", index=str(index), path=str(folder), chroma=True, pool=pool)
            kill.quarantined = len(list(tmp_path.glob("index/chroma.broken-*"))) - broken_before
            final = zygote.run("check", index=str(index), queries=QUERIES, full=True)
            final.update(chroma_count=done["chroma_count"], chroma_ids=done["chroma_ids"])
            _check_complete(kill, final, new, new_chunks, "after the re-run")
            docs, chunks = new, new_chunks
        zygote.close()
    finally:
        if zygote.proc.poll() is None:
            zygote.proc.kill()
    real = [k for k in kills if k.stage != "done"]
    survived = [k for k in real if not k.problems]
    by_stage: dict[str, int] = {}
    for k in real:
        by_stage[k.stage] = by_stage.get(k.stage, 0) + 1
    summary = {
        "kills": len(real),
        "survived": len(survived),
        "by_stage": by_stage,
        "served": {s: sum(k.served == s for k in real) for s in ("old", "new")},
        "chroma_quarantined": sum(k.quarantined for k in kills),
        "too_late": len(kills) - len(real),
        "seconds": round(time.monotonic() - started, 1),
        "one_ingest_seconds": round(total, 2),
    }
    print(f"\nkills survived: {len(survived)} of {len(real)}", json.dumps(summary))
    for k in kills:
        print(
            f"  round {k.round:2d} {k.plan:6s} at {k.at:5.2f} s, {k.stage:8s} -> {k.served}"
            + (" (worker pool)" if k.pool else "")
            + (f", Chroma quarantined {k.quarantined}" if k.quarantined else "")
        )
    assert all(not k.problems for k in kills), [(k.round, k.stage, k.problems) for k in kills]
    assert len(survived) == len(real) == KILLS
    assert by_stage.get("chroma", 0) >= 1 and by_stage.get("store", 0) >= 1, by_stage


# --- one writer at a time, and a real `manba ingest` killed ---------------------------------------

_READ = """
import json, sys
from rag.config import Settings
from rag.engine import Engine
engine = Engine(Settings().with_index(sys.argv[1]))
hits = engine.search(sys.argv[2], k=5)
docs = sorted(set(engine.reader.doc_ids))
print(json.dumps({"docs": docs, "chunks": len(engine.reader.chunk_ids), "hits": len(hits)}))
"""


def test_a_second_writer_fails_within_seconds_and_a_killed_manba_ingest_is_completed(
    tmp_path: Path,
) -> None:
    settings = Settings().with_index(tmp_path / "index")
    base = tmp_path / "base"
    base_docs = set(make_corpus(base, 30, seed=SEED, prefix="base_"))
    assert index_paths([base], settings).ok
    big = tmp_path / "big"
    big_docs = set(make_corpus(big, 400, seed=SEED + 1000, prefix="big_"))
    env = dict(os.environ, ANONYMIZED_TELEMETRY="False")
    first = subprocess.Popen(
        [str(MANBA), "ingest", str(big), "--index", str(settings.index_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while not _writer_active(settings.index_dir):
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the ingest never took the lock"
            time.sleep(0.02)
        t = time.monotonic()
        second = subprocess.run(
            [str(MANBA), "ingest", str(base), "--index", str(settings.index_dir)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        waited = time.monotonic() - t
        assert first.poll() is None, "the first ingest finished: no contention was tested"
        assert second.returncode == 2, second
        assert second.stderr.startswith("error: ") and "another process" in second.stderr
        assert "Traceback" not in second.stderr
        assert waited < 20, waited  # Python start and imports; the lock is never waited for
        print(f"\nsecond writer refused in {waited:.2f} s: {second.stderr.strip()}")
        time.sleep(0.5)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == -signal.SIGKILL
    seen = json.loads(
        subprocess.run(
            [sys.executable, "-c", _READ, str(settings.index_dir), QUERIES[0]],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            timeout=120,
        ).stdout
    )
    assert set(seen["docs"]) == base_docs and seen["hits"]  # the state before the ingest
    done = subprocess.run(
        [str(MANBA), "ingest", str(big), "--index", str(settings.index_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    from tests.test_ingest import assert_store_consistent

    assert_store_consistent(settings)
    conn = sqlite3.connect(settings.index_dir / "manba.sqlite3")
    stored = {r[0] for r in conn.execute("SELECT doc_id FROM documents")}
    conn.close()
    assert stored == base_docs | big_docs
