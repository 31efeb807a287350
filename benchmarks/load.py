"""Concurrent readers during an ingest: many question streams against one index, for a while.

    python benchmarks/load.py                         # 16 streams, 60 s, a generated index
    python benchmarks/load.py --duration 8 --docs 200 --json out.json
    python benchmarks/load.py --index index --corpus data/samples   # an index you have

``--streams`` question streams (spread over ``--procs`` processes, threads inside each, every
stream with an Engine of its own, as each app process has) ask the questions of
``data/testsets/samples.jsonl`` (Persian, Arabic, English) plus questions about the documents
being written, for ``--duration`` seconds. Meanwhile another process runs an ingest in rounds:
each round adds three documents (fa, ar, en) to a folder of live documents and changes three
it added before, then indexes the folder. Like the app, a stream opens a new Engine when
``manifest.json`` changes (that time is counted apart from question latency).

Each answer is checked: every citation's quote is the text of its document at its offsets, in
the stream's own snapshot; a cited live document is the version the ingest had published in
the manifest generation the stream's Engine was opened on; that generation is one the ingest
published. Printed: errors (with the first few), answers, latency p50/p95/p99, Engine reopen
times, the generations published and seen. Exit code 1 when an error or a check failed.

Without ``--index`` an index is built in a temporary folder from the bundled samples plus
``--docs`` documents made from the samples' sentences (each with a place name and a number of
its own). With ``--index`` the index is used as it is (``--corpus`` indexed into it first).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data" / "samples"
TESTSET = ROOT / "data" / "testsets" / "samples.jsonl"
LIVE = "live"  # the folder of documents the ingest adds and changes, beside the index
PUBLISHED = "published.jsonl"  # what the ingest published, one line per round

# Live documents: a harbour report per place, in each language; the version number is in the
# text, so a changed document is a new text.
PLACES = ["Qeshm", "Kish", "Bushehr", "Chabahar", "Jask", "Hormuz", "Lengeh", "Larak"]
PLACES_FA = ["قشم", "کیش", "بوشهر", "چابهار", "جاسک", "هرمز", "لنگه", "لارک"]
PLACES_AR = ["قشم", "كيش", "بوشهر", "تشابهار", "جاسك", "هرمز", "لنجة", "لارك"]
LIVE_QUESTIONS = [
    ("en", "When do the night ferries of the {p} harbour start?"),
    ("fa", "کشتی‌های شبانه بندر {p} کی راه می‌افتند؟"),
    ("ar", "متى تبدأ العبارات الليلية في ميناء {p}؟"),
]


def live_text(lang: str, n: int, version: int) -> str:
    i = n % len(PLACES)
    if lang == "fa":
        return (
            f"گزارش بندر {PLACES_FA[i]} شماره {n}\n\n"
            f"کشتی‌های شبانه بندر {PLACES_FA[i]} از ماه {version + 1} راه می‌افتند.\n"
            f"این نسخه {version} گزارش اداره بندر است و بهای بلیت {100 + version} هزار تومان است.\n"
        )
    if lang == "ar":
        return (
            f"تقرير ميناء {PLACES_AR[i]} رقم {n}\n\n"
            f"تبدأ العبارات الليلية في ميناء {PLACES_AR[i]} في الشهر {version + 1}.\n"
            f"هذه النسخة {version} من تقرير مكتب الميناء وسعر التذكرة {100 + version} دينارا.\n"
        )
    return (
        f"{PLACES[i]} harbour report number {n}\n\n"
        f"The night ferries of the {PLACES[i]} harbour start in month {version + 1}.\n"
        f"This is version {version} of the harbour office report; a ticket costs {100 + version}.\n"
    )


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def questions() -> list[tuple[str, str]]:
    """(language, question): the bundled test set's, and some about the live documents."""
    out = []
    for line in TESTSET.read_text("utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            out.append((row["question_lang"], row["question"]))
    for i in range(len(PLACES)):
        for lang, q in LIVE_QUESTIONS:
            names = {"en": PLACES, "fa": PLACES_FA, "ar": PLACES_AR}[lang]
            out.append((lang, q.format(p=names[i])))
    return out


# --- a generated corpus ----------------------------------------------------------------------


def sample_sentences() -> dict[str, list[str]]:
    """Sentences of the bundled samples by language (Persian, Arabic, English)."""
    from rag.chunking import split_sentences
    from rag.langs import detect

    out: dict[str, list[str]] = {"fa": [], "ar": [], "en": []}
    for path in sorted(SAMPLES.iterdir()):
        text = path.read_text("utf-8-sig")
        lang = detect(text)
        for start, end in split_sentences(text):
            sentence = " ".join(text[start:end].split())
            if len(sentence) > 30:
                out.setdefault(lang, []).append(sentence)
    return out


def generate_corpus(path: Path, n: int, seed: int = 7) -> None:
    """``n`` documents as JSONL, made of the samples' sentences, each with a place and a
    number of its own, in turn Persian, Arabic and English."""
    rng = random.Random(seed)
    pools = sample_sentences()
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            lang = ("fa", "ar", "en")[i % 3]
            pool = pools[lang] or pools["en"]
            body = rng.sample(pool, min(len(pool), rng.randint(3, 8)))
            place = {"fa": PLACES_FA, "ar": PLACES_AR, "en": PLACES}[lang][i % len(PLACES)]
            head = {
                "fa": f"گزارش {i} از {place}: {rng.randint(10, 9999)} نفر",
                "ar": f"التقرير {i} من {place}: {rng.randint(10, 9999)} شخصا",
                "en": f"Report {i} from {place}: {rng.randint(10, 9999)} people",
            }[lang]
            row = {"id": f"g{i}", "title": head, "text": head + "\n" + "\n".join(body)}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


# --- the ingest process ----------------------------------------------------------------------


def _publish(index_dir: Path, versions: dict[str, str], log: Path) -> int:
    manifest = json.loads((index_dir / "manifest.json").read_text("utf-8"))
    gen = int(manifest["generation"])
    with log.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"generation": gen, "live": versions, "t": time.time()}) + "\n")
    return gen


def ingest_loop(index_dir: str, work: str, go: Any, stop: Any, pause: float) -> None:
    """Rounds of: add three live documents, change three earlier ones, index the folder."""
    from rag.config import Settings
    from rag.indexing import index_paths

    settings = Settings().with_index(Path(index_dir))
    live = Path(work) / LIVE
    log = Path(work) / PUBLISHED
    versions: dict[str, str] = {}  # doc_id -> hash of the text last published
    written: dict[str, tuple[str, int, int]] = {}  # doc_id -> (lang, n, version)
    for path in sorted(live.glob("*.txt")):  # live-NNNNN-LANG.txt, version 0
        versions[path.name] = text_hash(path.read_text("utf-8"))
        _, number, lang = path.stem.split("-")
        written[path.name] = (lang, int(number), 0)
    rng = random.Random(11)
    n = len(written)
    go.wait()
    while not stop.is_set():
        pending = dict(versions)
        for lang in ("fa", "ar", "en"):
            name = f"live-{n:05d}-{lang}.txt"
            text = live_text(lang, n, 0)
            (live / name).write_text(text, encoding="utf-8")
            written[name] = (lang, n, 0)
            pending[name] = text_hash(text)
            n += 1
        for name in rng.sample(sorted(written), min(3, len(written))):
            lang, k, version = written[name]
            text = live_text(lang, k, version + 1)
            (live / name).write_text(text, encoding="utf-8")
            written[name] = (lang, k, version + 1)
            pending[name] = text_hash(text)
        report = index_paths([live], settings)
        if not report.ok:
            raise RuntimeError(f"ingest failed: {report.failed}")
        versions = pending
        _publish(Path(index_dir), versions, log)
        stop.wait(pause)


# --- the question streams --------------------------------------------------------------------


@dataclass
class StreamResult:
    answered: int = 0
    latencies: list[float] = field(default_factory=list)
    reopens: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # (manifest generation the Engine was opened on, doc_id, hash of the cited text), per
    # cited live document; checked against what the ingest published
    live_cited: list[tuple[int, str, str]] = field(default_factory=list)
    generations: Counter[int] = field(default_factory=Counter)
    by_lang: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        """Plain types (``asdict`` would turn a Counter into a count of its items)."""
        out = {k: v for k, v in vars(self).items() if not isinstance(v, Counter)}
        out["generations"] = dict(self.generations)
        out["by_lang"] = dict(self.by_lang)
        return out


def _manifest_generation(index_dir: Path) -> int:
    return int(json.loads((index_dir / "manifest.json").read_text("utf-8"))["generation"])


def _open(settings: Any, index_dir: Path) -> tuple[Any, int, float]:
    """An Engine and the manifest generation it serves: the manifest read before and after
    opening agree (manifests only move forward), else it is opened again."""
    from rag.engine import Engine

    while True:
        mtime = (index_dir / "manifest.json").stat().st_mtime
        before = _manifest_generation(index_dir)
        engine = Engine(settings)
        if _manifest_generation(index_dir) == before:
            return engine, before, mtime
        engine.close()


def stream(
    index_dir: Path,
    qs: list[tuple[str, str]],
    offset: int,
    opened: threading.Barrier,
    deadline_box: list[float],
) -> StreamResult:
    """One stream: open an Engine, wait for the start, ask until the deadline."""
    from rag.config import Settings

    settings = Settings().with_index(index_dir)
    out = StreamResult()
    engine, gen, mtime = _open(settings, index_dir)
    opened.wait()  # every stream of the process has its Engine
    opened.wait()  # the run has started (the deadline is set)
    i = offset
    while time.monotonic() < deadline_box[0]:
        try:
            now_mtime = (index_dir / "manifest.json").stat().st_mtime
            if now_mtime != mtime:  # a new ingest: a new Engine, as the app loads one
                t0 = time.perf_counter()
                old = engine
                engine, gen, mtime = _open(settings, index_dir)
                old.close()
                out.reopens.append(time.perf_counter() - t0)
            lang, question = qs[i % len(qs)]
            i += 1
            t0 = time.perf_counter()
            answer = engine.ask(question)
            out.latencies.append(time.perf_counter() - t0)
            out.answered += 1
            out.by_lang[lang] += 1
            out.generations[gen] += 1
            for c in answer.citations:
                _, text = engine.reader.doc(c.doc_id)
                if text[c.start : c.end] != c.quote:
                    out.errors.append(f"quote of {c.doc_id} [{c.start}:{c.end}] is not its text")
                if c.doc_id.startswith("live-"):
                    out.live_cited.append((gen, c.doc_id, text_hash(text)))
        except Exception:
            out.errors.append(traceback.format_exc(limit=6))
    engine.close()
    return out


def stream_proc(
    index_dir: str, threads: int, first: int, ready: Any, go: Any, duration: float
) -> list[dict[str, Any]]:
    """One process: ``threads`` streams, each with its own Engine, started together."""
    qs = questions()
    random.Random(first).shuffle(qs)
    box: list[float] = []
    results: list[StreamResult] = []
    lock = threading.Lock()
    opened = threading.Barrier(threads + 1)

    def run(k: int) -> None:
        r = stream(Path(index_dir), qs, (first + k) * 7, opened, box)
        with lock:
            results.append(r)

    workers = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    opened.wait()
    ready.put(first)
    go.wait()
    box.append(time.monotonic() + duration)
    opened.wait()
    for w in workers:
        w.join()
    return [r.to_dict() for r in results]


# --- the run ---------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def prepare(index: Path | None, corpus: Path | None, docs: int, work: Path) -> Path:
    """The index to load: built in ``work`` unless given; the live folder seeded."""
    from rag.config import Settings
    from rag.indexing import index_paths

    live = work / LIVE
    live.mkdir(parents=True, exist_ok=True)
    for k, lang in enumerate(("fa", "ar", "en")):
        (live / f"live-{k:05d}-{lang}.txt").write_text(live_text(lang, k, 0), encoding="utf-8")
    if index is None:
        index = work / "index"
        paths: list[Path] = [SAMPLES]
        if docs:
            generated = work / "generated.jsonl"
            generate_corpus(generated, docs)
            paths.append(generated)
        if corpus is not None:
            paths.append(corpus)
    else:
        paths = [corpus] if corpus is not None else []
    settings = Settings().with_index(index)
    t0 = time.perf_counter()
    report = index_paths([*paths, live], settings)
    if not report.ok:
        raise SystemExit(f"could not build the index: {report.failed}")
    print(
        f"index {index}: {report.total_documents} documents indexed in "
        f"{time.perf_counter() - t0:.1f} s",
        file=sys.stderr,
    )
    _publish(
        index,
        {p.name: text_hash(p.read_text("utf-8")) for p in live.glob("*.txt")},
        work / PUBLISHED,
    )
    return index


def run(
    index: Path,
    work: Path,
    streams: int = 16,
    procs: int = 2,
    duration: float = 60.0,
    ingest: bool = True,
    pause: float = 1.0,
) -> dict[str, Any]:
    """Run the streams (and the ingest) against ``index``; the summary as a dict."""
    ctx = multiprocessing.get_context("spawn")
    procs = max(1, min(procs, streams))
    manager = ctx.Manager()
    ready = manager.Queue()
    go = manager.Event()
    stop = manager.Event()
    ingester = None
    if ingest:
        ingester = ctx.Process(target=ingest_loop, args=(str(index), str(work), go, stop, pause))
        ingester.start()
    from concurrent.futures import ProcessPoolExecutor

    shares = [streams // procs + (1 if p < streams % procs else 0) for p in range(procs)]
    firsts = [sum(shares[:p]) for p in range(procs)]
    with ProcessPoolExecutor(procs, mp_context=ctx) as pool:
        futures = [
            pool.submit(stream_proc, str(index), shares[p], firsts[p], ready, go, duration)
            for p in range(procs)
        ]
        for _ in range(procs):  # every Engine loaded
            ready.get(timeout=600)
        t0 = time.monotonic()
        go.set()
        rows = [r for f in futures for r in f.result()]
        elapsed = time.monotonic() - t0
    stop.set()
    if ingester is not None:
        ingester.join(timeout=300)
        if ingester.exitcode != 0:
            rows.append({"errors": [f"the ingest process exited with {ingester.exitcode}"]})
    manager.shutdown()
    return summarize(rows, work, streams, elapsed)


def summarize(
    rows: list[dict[str, Any]], work: Path, streams: int, elapsed: float
) -> dict[str, Any]:
    published: dict[int, dict[str, str]] = {}
    log = work / PUBLISHED
    for line in log.read_text("utf-8").splitlines():
        entry = json.loads(line)
        published[int(entry["generation"])] = entry["live"]
    errors = [e for r in rows for e in r.get("errors", [])]
    latencies = [x for r in rows for x in r.get("latencies", [])]
    reopens = [x for r in rows for x in r.get("reopens", [])]
    seen: Counter[int] = Counter()
    langs: Counter[str] = Counter()
    for r in rows:
        seen.update({int(k): v for k, v in r.get("generations", {}).items()})
        langs.update(r.get("by_lang", {}))
    unpublished = sorted(g for g in seen if g not in published)
    wrong_version = [
        (gen, doc_id)
        for r in rows
        for gen, doc_id, digest in r.get("live_cited", [])
        if gen in published and published[gen].get(doc_id) != digest
    ]
    live_cited = sum(len(r.get("live_cited", [])) for r in rows)
    ms = [x * 1000 for x in latencies]
    return {
        "streams": streams,
        "seconds": round(elapsed, 1),
        "answered": len(latencies),
        "answered_by_lang": dict(langs),
        "errors": len(errors),
        "first_errors": errors[:3],
        "latency_ms": {
            "p50": round(percentile(ms, 50), 1),
            "p95": round(percentile(ms, 95), 1),
            "p99": round(percentile(ms, 99), 1),
            "mean": round(statistics.fmean(ms), 1) if ms else None,
        },
        "reopens": len(reopens),
        "reopen_ms_p50": round(percentile([x * 1000 for x in reopens], 50), 1),
        "generations_published": sorted(published),
        "generations_seen": dict(sorted(seen.items())),
        "unpublished_generations_seen": unpublished,
        "live_citations": live_cited,
        "live_citations_of_a_wrong_version": len(wrong_version),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--index", type=Path, help="an index folder (default: build one)")
    parser.add_argument("--corpus", type=Path, help="files or a folder to index first")
    parser.add_argument("--docs", type=int, default=3000, help="generated documents")
    parser.add_argument("--streams", type=int, default=16)
    parser.add_argument("--procs", type=int, default=2, help="processes for the streams")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between ingests")
    parser.add_argument("--no-ingest", action="store_true")
    parser.add_argument("--json", type=Path, help="write the summary here")
    args = parser.parse_args(argv)
    # The live documents' folder and the record of what was published live here; an index
    # given with --index is written to (the live documents stay in it: `manba remove` them).
    work = Path(tempfile.mkdtemp(prefix="manba-load-"))
    try:
        index = prepare(args.index, args.corpus, args.docs, work)
        summary = run(
            index,
            work,
            streams=args.streams,
            procs=args.procs,
            duration=args.duration,
            ingest=not args.no_ingest,
            pause=args.pause,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(summary, ensure_ascii=False, indent=1))
    if args.json:
        args.json.write_text(json.dumps(summary, ensure_ascii=False, indent=1), "utf-8")
    bad = (
        summary["errors"]
        or summary["unpublished_generations_seen"]
        or summary["live_citations_of_a_wrong_version"]
        or not summary["answered"]
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
