"""Retrieval evaluation: Recall@k, MRR@10, nDCG@10 and latency on corpus/question JSONL pairs.

Passages are ranked at document level (a corpus row is a document; its chunks share its rank),
since the gold label names a passage row, not a chunk.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from rag import vectorstore
from rag.config import Settings
from rag.engine import Engine
from rag.errors import IngestError, ManbaError
from rag.indexing import index_paths
from rag.retrieval import Searcher

_CHUNK_DEPTH = 100
logger = logging.getLogger(__name__)


def load_questions(path: Path, limit: int = 0) -> list[dict[str, Any]]:
    """Questions in the shared JSONL format; a broken line is an error naming the line."""
    rows = []
    for lineno, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise IngestError(str(path), f"not valid JSON ({exc.msg})", line=lineno) from exc
        if not row.get("question") or not row.get("gold_passage_id"):
            raise IngestError(str(path), "needs 'question' and 'gold_passage_id'", line=lineno)
        rows.append(row)
        if limit and len(rows) >= limit:
            break
    return rows


def rank_metrics(ranks: list[int | None], cutoffs: Iterable[int]) -> dict[str, float]:
    """Recall@k, MRR@10 and nDCG@10 (one relevant passage per question) from gold ranks."""
    n = max(1, len(ranks))
    out = {f"recall@{k}": sum(1 for r in ranks if r is not None and r <= k) / n for k in cutoffs}
    out["mrr@10"] = sum(1.0 / r for r in ranks if r is not None and r <= 10) / n
    out["ndcg@10"] = sum(1.0 / math.log2(r + 1) for r in ranks if r is not None and r <= 10) / n
    return {k: round(v, 4) for k, v in out.items()}


def _latency(ms: list[float]) -> dict[str, float]:
    if not ms:
        return {}
    arr = np.array(ms)
    return {
        "latency_ms_p50": round(float(np.percentile(arr, 50)), 2),
        "latency_ms_p95": round(float(np.percentile(arr, 95)), 2),
    }


def _grouped(
    questions: list[dict[str, Any]], ranks: list[int | None], cutoffs: list[int]
) -> dict[str, Any]:
    groups: dict[str, dict[str, list[int | None]]] = {
        "by_question_lang": defaultdict(list),
        "by_passage_lang": defaultdict(list),
    }
    for q, r in zip(questions, ranks, strict=True):
        groups["by_question_lang"][str(q.get("question_lang", "?"))].append(r)
        groups["by_passage_lang"][str(q.get("passage_lang", "?"))].append(r)
    return {
        name: {lang: {"n": len(rs), **rank_metrics(rs, cutoffs)} for lang, rs in sorted(g.items())}
        for name, g in groups.items()
    }


def _score(
    questions: list[dict[str, Any]],
    ranked_ids: Callable[[str], list[str]],
    cutoffs: list[int],
) -> dict[str, Any]:
    ranks: list[int | None] = []
    times: list[float] = []
    for q in questions:
        t0 = time.perf_counter()
        ids = ranked_ids(q["question"])
        times.append((time.perf_counter() - t0) * 1000)
        gold = q["gold_passage_id"]
        ranks.append(ids.index(gold) + 1 if gold in ids else None)
    return {
        **rank_metrics(ranks, cutoffs),
        **_latency(times),
        **_grouped(questions, ranks, cutoffs),
    }


def _jsonl_files(corpus: list[Path]) -> list[tuple[Path, str]]:
    """Each corpus JSONL file with the relative path ingest puts before ``#`` in its doc_ids
    (a file given directly: its name; a folder: the path below it)."""
    files: list[tuple[Path, str]] = []
    for given in corpus:
        if given.is_dir():
            files += [(p, p.relative_to(given).as_posix()) for p in sorted(given.rglob("*.jsonl"))]
        else:
            files.append((given, given.name))
    return files


def _row_id(doc_id: str, prefixes: Iterable[str] = ()) -> str:
    """The corpus row id of a doc_id ``<relpath>#<rowid>``. The relative path may itself hold
    '#', so a known prefix is stripped (the longest that fits) before falling back to the
    first '#'."""
    for rel in sorted(prefixes, key=len, reverse=True):
        if doc_id.startswith(rel + "#"):
            return doc_id[len(rel) + 1 :]
    return doc_id.split("#", 1)[1] if "#" in doc_id else doc_id


def ablation_modes() -> list[str]:
    """Each leg alone and fused, without and with the sentence re-ranking; fused last."""
    return [
        "bm25-norerank",
        "dense-norerank",
        "xling-norerank",
        "hybrid-norerank",
        "bm25",
        "dense",
        "xling",
        "hybrid",
    ]


def xling_ablation_modes() -> list[str]:
    """The fused default with each kind of cross-lingual evidence alone and left out, and with
    none (retrieval as it was before the cross-lingual leg)."""
    parts = ("names", "concepts", "numbers")
    return (
        ["hybrid-noxling"] + [f"hybrid-only_{p}" for p in parts] + [f"hybrid-no_{p}" for p in parts]
    )


def _variant_searcher(settings: Settings, engine: Engine, variant: str) -> Searcher | None:
    """A searcher with other cross-lingual parts for an ablation label; None for the engine's
    own (the path users take)."""
    all_parts = ("concepts", "names", "numbers")
    if variant == "noxling":
        parts: tuple[str, ...] = ()
    elif variant.startswith("only_"):
        parts = (variant[5:],)
    elif variant.startswith("no_"):
        parts = tuple(p for p in all_parts if p != variant[3:])
    else:
        return None
    retrieval = replace(settings.retrieval, xling_parts=",".join(parts))
    return Searcher(engine.reader, replace(settings, retrieval=retrieval))


def run_eval(
    corpus: list[Path],
    qa: Path,
    settings: Settings,
    cutoffs: list[int],
    modes: list[str],
    *,
    baseline: bool = False,
    limit: int = 0,
    on_engine: Callable[[Engine], None] | None = None,
) -> dict[str, Any]:
    """Build a temporary index of ``corpus``, score ``qa`` in each mode; return the figures.
    ``on_engine`` is then called with the engine on that index (answer evaluation)."""
    questions = load_questions(qa, limit)
    if not questions:
        raise ManbaError(f"{qa} has no questions")
    depth = max([*cutoffs, 10])
    report: dict[str, Any] = {
        "qa": str(qa),
        "corpus": [str(c) for c in corpus],
        "n_questions": len(questions),
        "cutoffs": cutoffs,
        "modes": {},
    }
    with (
        tempfile.TemporaryDirectory(prefix="manba-eval-") as tmp,
        vectorstore.scratch(settings, Path(tmp) / "index") as run_settings,
    ):
        t0 = time.perf_counter()
        built = index_paths(list(corpus), run_settings)
        report["index"] = {
            "documents": built.total_documents,
            "chunks": built.total_chunks,
            "seconds": round(time.perf_counter() - t0, 2),
            "failed": [str(f) for f in built.failed],
        }
        prefixes = [rel for _, rel in _jsonl_files(corpus)]
        engine = Engine(run_settings)
        try:
            for label in modes:
                mode, _, variant = label.partition("-")

                searcher = _variant_searcher(run_settings, engine, variant)

                def ranked(
                    text: str,
                    mode: str = mode,
                    rerank: bool = variant != "norerank",
                    searcher: Searcher | None = searcher,
                ) -> list[str]:
                    if searcher is None:
                        hits = engine.search(text, _CHUNK_DEPTH, mode=mode, rerank=rerank)
                    else:
                        hits = searcher.search(text, _CHUNK_DEPTH, mode=mode, rerank=rerank)[1]
                    seen: dict[str, None] = {}
                    for h in hits:
                        seen.setdefault(_row_id(h.doc.doc_id, prefixes), None)
                    return list(seen)[:depth]

                report["modes"][label] = _score(questions, ranked, cutoffs)
            if on_engine is not None:
                on_engine(engine)
        finally:
            # Before the temporary folder goes: Chroma and SQLite keep files open in it.
            engine.close()
    if baseline:
        scores, skipped = _baseline(corpus, questions, cutoffs, depth)
        report["modes"]["baseline_bm25s"] = scores
        report["baseline_skipped_rows"] = skipped
    report.update({k: v for k, v in report["modes"][modes[0]].items() if not k.startswith("by_")})
    report["primary_mode"] = modes[0]
    return report


def _baseline(
    corpus: list[Path], questions: list[dict[str, Any]], cutoffs: list[int], depth: int
) -> tuple[dict[str, Any], int]:
    """Plain bm25s with its default tokenizer over whole passages: the bar to beat.

    Returns the figures and the number of corpus lines skipped (not JSON, not an object, no
    ``id`` or no ``text``): those are logged, counted in the report, and not scored.
    """
    import bm25s

    ids: list[str] = []
    texts: list[str] = []
    skipped = 0
    for path, _ in _jsonl_files(corpus):
        for lineno, line in enumerate(path.read_text("utf-8-sig").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                row = None
            if (
                not isinstance(row, dict)
                or row.get("id") in (None, "")
                or not isinstance(row.get("text"), str)
            ):
                logger.warning(
                    "baseline: skipped %s:%d (no JSON object with id and text)", path, lineno
                )
                skipped += 1
                continue
            ids.append(str(row["id"]))
            texts.append(str(row.get("title") or "") + "\n" + row["text"])
    if not ids:
        raise ManbaError("the baseline found no corpus row with 'id' and 'text' to index")
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(texts, show_progress=False), show_progress=False)

    def ranked(text: str) -> list[str]:
        tokens = bm25s.tokenize([text], show_progress=False)
        if not tokens.vocab:
            return []
        docs, _ = retriever.retrieve(tokens, k=min(depth, len(ids)), show_progress=False)
        return [ids[i] for i in docs[0]]

    return _score(questions, ranked, cutoffs), skipped


def format_report(report: dict[str, Any]) -> str:
    """A plain-text table of the figures, one row per mode."""
    cut = report["cutoffs"]
    head = ["mode", *[f"R@{k}" for k in cut], "MRR@10", "nDCG@10", "p50 ms", "p95 ms"]
    lines = [
        f"{report['qa']}: {report['n_questions']} questions; index "
        f"{report['index']['documents']} docs / {report['index']['chunks']} chunks built in "
        f"{report['index']['seconds']} s",
    ]
    failed = report["index"].get("failed") or []
    if failed:
        lines.append(
            f"warning: {len(failed)} corpus input(s) failed to ingest and are not in the index "
            f"(first: {failed[0]}; all are listed under index.failed with --json)"
        )
    if report.get("baseline_skipped_rows"):
        lines.append(
            f"warning: the baseline skipped {report['baseline_skipped_rows']} corpus line(s) "
            "that are not JSON objects with 'id' and 'text'"
        )
    lines.append("  ".join(f"{h:>14}" for h in head))
    for mode, m in report["modes"].items():
        row = [
            mode,
            *[f"{m[f'recall@{k}']:.4f}" for k in cut],
            f"{m['mrr@10']:.4f}",
            f"{m['ndcg@10']:.4f}",
            f"{m.get('latency_ms_p50', 0):.1f}",
            f"{m.get('latency_ms_p95', 0):.1f}",
        ]
        lines.append("  ".join(f"{c:>14}" for c in row))
    return "\n".join(lines)
