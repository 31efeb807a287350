"""Hostile inputs, the whole corpus: every case of tests/test_hostile_files.py plus a 200 MB
text file, ingested by `manba ingest` in a child process as a user would run it.

    .venv/bin/python benchmarks/hostile.py --work /tmp/manba-hostile [--big-mb 200] [--json OUT]

Prints a table of every input with its expected and actual outcome and the count; then the
200 MB file twice: at the default size limit (refused with its message, within the first
run) and alone with MANBA_INGEST__MAX_MB raised, with the time, the chunks and the child's
peak memory: ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` of a wrapper process whose only
child is the ingest (the largest single process: the CLI or one of its workers), and the peak
of the summed RSS of the ingest's process tree sampled every 0.2 s. Documents indexed before
the hostile batch are checked unchanged (chunk ids, offsets, texts). Offline.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import test_hostile_files as hostile  # noqa: E402  (the table and its builders)

MANBA = [sys.executable, "-m", "rag"]
BIG = "big-200mb.txt"

# Sentence templates for the big file: varied text (names, places, numbers), not one line
# repeated, so chunking, analysis and the sentence cache see something like real news.
TEMPLATES = {
    "fa": [
        "به گزارش خبرگزاری {src}، نشست {n} وزیران در {city} روز {d} برگزار شد.",
        "سخنگوی دولت در {city} گفت که {k} میلیارد ریال برای بازسازی {city2} هزینه می‌شود.",
        "کارشناسان می‌گویند قیمت نان در {city} طی {d} روز گذشته {k} درصد افزایش یافته است.",
        "نماینده {city} در مجلس خواستار بررسی دوباره طرح {n} درباره آب کشاورزی شد.",
    ],
    "ar": [
        "وأفادت وكالة {src} بأن الاجتماع رقم {n} للوزراء عقد في {city} يوم {d}.",
        "وقال المتحدث باسم الحكومة في {city} إن {k} مليون دينار خصصت لإعمار {city2}.",
        "ويرى خبراء أن أسعار الخبز في {city} ارتفعت بنسبة {k} في المئة خلال {d} يوما.",
        "وطالب نائب عن {city} بإعادة النظر في المشروع رقم {n} الخاص بمياه الري.",
    ],
    "en": [
        "According to {src}, the ministers held meeting number {n} in {city} on day {d}.",
        "A government spokesman in {city} said {k} million dollars would rebuild {city2}.",
        "Experts say bread prices in {city} rose by {k} percent over the last {d} days.",
        "A deputy for {city} asked parliament to review plan {n} on irrigation water again.",
    ],
}
PLACES = {
    "fa": ["تهران", "اصفهان", "شیراز", "تبریز", "مشهد", "قزوین", "کرمان", "یزد", "رشت"],
    "ar": ["دمشق", "بغداد", "بيروت", "عمان", "القاهرة", "تونس", "الرباط", "حلب", "الموصل"],
    "en": ["Ankara", "Moscow", "Doha", "Muscat", "Beirut", "Cairo", "Tunis", "Baghdad", "Sochi"],
}
SOURCES = {"fa": ["ایرنا", "ایسنا", "مهر"], "ar": ["سانا", "واع", "بترا"], "en": ["AP", "AFP"]}


def write_big(path: Path, megabytes: int, seed: int = 7) -> int:
    """A text file of about ``megabytes`` MiB of fa/ar/en paragraphs; returns its size."""
    rng = random.Random(seed)
    target = megabytes * 1024 * 1024
    written = 0
    with path.open("wb") as out:
        while written < target:
            paragraphs = []
            for _ in range(200):
                lang = rng.choice(("fa", "ar", "en"))
                sentences = [
                    rng.choice(TEMPLATES[lang]).format(
                        src=rng.choice(SOURCES[lang]),
                        city=rng.choice(PLACES[lang]),
                        city2=rng.choice(PLACES[lang]),
                        n=rng.randrange(1, 5000),
                        d=rng.randrange(1, 30),
                        k=rng.randrange(2, 900),
                    )
                    for _ in range(rng.randrange(2, 6))
                ]
                paragraphs.append(" ".join(sentences))
            block = ("\n\n".join(paragraphs) + "\n\n").encode("utf-8")
            out.write(block)
            written += len(block)
    return written


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _pss_kb(pid: int) -> int:
    """Proportional set size: pages shared between processes (the workers fork from one
    server that imported everything) counted once across them, not once in each."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_measured(args: list[str], env: dict[str, str], log: Path) -> dict[str, Any]:
    """Run ``args`` under a wrapper whose only child it is; the wrapper's RUSAGE_CHILDREN
    ru_maxrss is that child's (or its largest descendant's) peak RSS. The summed RSS of the
    whole tree is sampled meanwhile."""
    usage = log.with_suffix(".rusage.json")
    wrapper = [sys.executable, __file__, "--wrap", str(usage), "--", *args]
    t0 = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(wrapper, env=env, stdout=out, stderr=subprocess.STDOUT)
        peak_tree = peak_pss = 0
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak_tree, peak_pss
            while not stop.wait(0.2):
                tree = _tree(proc.pid)[1:]  # the wrapper left out
                peak_tree = max(peak_tree, sum(_rss_kb(p) for p in tree))
                peak_pss = max(peak_pss, sum(_pss_kb(p) for p in tree))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        proc.wait()
        stop.set()
        sampler.join()
    seconds = time.perf_counter() - t0
    wrapped = json.loads(usage.read_text())
    return {
        "exit_code": wrapped["exit_code"],
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(wrapped["maxrss_kb"] / 1024, 1),
        "peak_tree_rss_mb": round(peak_tree / 1024, 1),
        "peak_tree_pss_mb": round(peak_pss / 1024, 1),
        "output": log.read_text(errors="replace"),
    }


def _wrap(usage: str, args: list[str]) -> int:
    code = subprocess.call(args)
    maxrss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    Path(usage).write_text(json.dumps({"exit_code": code, "maxrss_kb": maxrss}))
    return code


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MANBA_", "OPENAI_"))}
    env.update(extra)
    env["ANONYMIZED_TELEMETRY"] = "False"
    return env


def _snapshot(index: Path) -> dict[str, tuple[str, int, int, str]]:
    from rag.config import Settings
    from rag.store import IndexReader

    reader = IndexReader(Settings().with_index(index))
    try:
        out = {}
        for i, cid in enumerate(reader.chunk_ids):
            chunk = reader.chunk(i)
            out[cid] = (chunk.doc_id, chunk.start, chunk.end, chunk.text)
        return out
    finally:
        reader.close()


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["--wrap"]:
        return _wrap(argv[1], argv[3:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", required=True, type=Path, help="A scratch folder (emptied).")
    parser.add_argument("--big-mb", type=int, default=200, help="Size of the big text file.")
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    opts = parser.parse_args(argv)
    work: Path = opts.work.resolve()
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    corpus, index = work / "corpus", work / "index"
    # At the default limit the 2 MB case of the tests is indexed: the big file replaces it.
    cases = [c for c in hostile.CASES if c.name != "big.txt"]
    big = hostile.Case(
        BIG,
        f"{opts.big_mb} MB of fa/ar/en text at the default limit",
        None,
        "refused",
        "MB limit for one file (MANBA_INGEST__MAX_MB)",
        "raise it to index this file",
    )
    t0 = time.perf_counter()
    hostile.build_corpus(corpus, work / "outside", cases + hostile.GOOD)
    size = write_big(corpus / BIG, opts.big_mb)
    print(f"corpus built in {time.perf_counter() - t0:.1f} s ({size / 2**20:.0f} MB big file)")
    cases.append(big)

    before = work / "before"
    before.mkdir()
    for name, text in (("fa.txt", hostile.FA), ("ar.txt", hostile.AR), ("en.txt", hostile.EN)):
        (before / name).write_text(text, encoding="utf-8")
    first = run_measured(
        [*MANBA, "ingest", str(before), "--index", str(index)], _env(), work / "before.log"
    )
    assert first["exit_code"] == 0, first["output"]
    snapshot = _snapshot(index)

    report_path = work / "hostile.json"
    run = run_measured(
        [*MANBA, "ingest", str(corpus), "--index", str(index), "--json", str(report_path)],
        _env(),
        work / "hostile.log",
    )
    report = json.loads(report_path.read_text())
    errors = [line for line in run["output"].splitlines() if line.startswith("error: ")]
    written = set(report["added"]) | set(report["updated"])
    rows: list[dict[str, Any]] = []
    for case in cases + hostile.GOOD:
        path = str(corpus / case.name)
        mine = [f for f in report["failed"] if f["path"] == path]
        lines_printed = [e for e in errors if e.startswith(f"error: {path}:")]
        docs = sorted(d for d in written if d == case.name or d.startswith(case.name + "#"))
        got = []
        if docs:
            got.append(f"indexed {len(docs)}")
        got += [(f"line {f['line']}: " if f["line"] else "") + f["reason"] for f in mine]
        if case.outcome == "refused":
            ok = len(mine) == 1 and case.reason in mine[0]["reason"] and not docs
        elif case.outcome == "indexed":
            ok = not mine and docs == [case.name]
        else:
            ok = sorted(f["line"] for f in mine) == list(case.lines) and len(docs) == len(case.docs)
        ok = ok and len(lines_printed) == len(mine)  # one printed line per failure
        rows.append(
            {
                "file": case.name,
                "input": case.what,
                "expected": case.outcome,
                "ok": ok,
                "outcome": "; ".join(got) or "nothing reported",
            }
        )
    unchanged = _snapshot(index)
    kept = {cid: v for cid, v in unchanged.items() if cid in snapshot}
    before_ok = kept == snapshot

    print(f"\n{'file':26} {'expected':8} ok  outcome")
    for row in rows:
        mark = "yes" if row["ok"] else "NO "
        print(f"{row['file']:26} {row['expected']:8} {mark} {row['outcome'][:150]}")
    n_hostile = len(cases)
    n_ok = sum(r["ok"] for r in rows)
    print(
        f"\n{n_hostile} hostile inputs (+{len(hostile.GOOD)} good files) in one batch: "
        f"{n_ok}/{len(rows)} as expected; {len(report['failed'])} messages; exit code "
        f"{run['exit_code']}; {run['seconds']} s, child peak RSS {run['peak_rss_mb']} MB "
        f"(process tree {run['peak_tree_rss_mb']} MB); documents indexed before unchanged: "
        f"{before_ok}"
    )

    raised = max(opts.big_mb + 50, 300)
    big_run = run_measured(
        [
            *MANBA,
            "ingest",
            str(corpus / BIG),
            "--index",
            str(work / "index-big"),
            "--json",
            str(work / "big.json"),
        ],
        _env(MANBA_INGEST__MAX_MB=str(raised)),
        work / "big.log",
    )
    big_report = json.loads((work / "big.json").read_text()) if big_run["exit_code"] == 0 else {}
    print(
        f"\n{BIG} at the default limit: "
        + next((r["outcome"] for r in rows if r["file"] == BIG), "?")
    )
    print(
        f"{BIG} with MANBA_INGEST__MAX_MB={raised}: exit code {big_run['exit_code']}, "
        f"{big_run['seconds']} s, {big_report.get('chunks_written', '?')} chunks, child peak "
        f"RSS {big_run['peak_rss_mb']} MB (RUSAGE_CHILDREN ru_maxrss), process tree peak "
        f"{big_run['peak_tree_rss_mb']} MB (PSS {big_run['peak_tree_pss_mb']} MB); stages "
        f"{big_report.get('stages', {})}"
    )
    if big_run["exit_code"] != 0:
        print(big_run["output"][-3000:])
    figures = {
        "hostile_inputs": n_hostile,
        "good_inputs": len(hostile.GOOD),
        "as_expected": n_ok,
        "rows": rows,
        "batch": {k: v for k, v in run.items() if k != "output"},
        "before_unchanged": before_ok,
        "big_mb": round(size / 2**20, 1),
        "big_raised": {k: v for k, v in big_run.items() if k != "output"}
        | {"chunks": big_report.get("chunks_written"), "stages": big_report.get("stages")},
    }
    if opts.json:
        opts.json.parent.mkdir(parents=True, exist_ok=True)
        opts.json.write_text(json.dumps(figures, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0 if n_ok == len(rows) and before_ok and big_run["exit_code"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
