"""Build the corpora for the hand-written Persian cross-lingual question set.

The repository holds only the questions (``questions.en-fa.jsonl``, ``questions.fa-en.jsonl``)
and the ids of the articles they point to; the articles themselves stay in the shared data
folder (their licences forbid copying them here). This script writes, to ``--out``:

- ``corpus.fa.jsonl``: the gold Fars News articles, N distractors drawn with a fixed seed from
  ``scale/farsnews.fa.jsonl``, and the Persian bundled sample;
- ``corpus.en.jsonl``: the same from ``scale/tehrantimes.en.jsonl``, and the two English samples;
- ``corpus.ar.jsonl``: the Arabic bundled sample and N distractors from
  ``scale/antcorpus.ar.jsonl`` (when that file is there).

Bundled samples keep their file name as id. Before writing, every gold id must be found and every
answer string must occur verbatim in its gold article's text; otherwise the script stops.

Standard library only::

    python benchmarks/xling_fa/build.py --out /tmp/x [--distractors 300] [--shared DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SAMPLES = REPO / "data" / "samples"
QUESTION_FILES = ("questions.en-fa.jsonl", "questions.fa-en.jsonl")
SCALE_FILES = {
    "fa": "farsnews.fa.jsonl",
    "en": "tehrantimes.en.jsonl",
    "ar": "antcorpus.ar.jsonl",
}
SAMPLE_LANGS = {"000_": "fa", "001_": "en", "002_": "en", "003_": "ar"}
SEED = 20240611

Row = dict[str, Any]


def read_jsonl(path: Path) -> Iterator[Row]:
    """The JSON objects of a JSONL file, one per non-blank line."""
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            if not isinstance(row, dict):
                raise SystemExit(f"{path}:{lineno}: not a JSON object")
            yield row


def load_questions(folder: Path) -> list[Row]:
    """Every question row of the set, in file order."""
    questions: list[Row] = []
    for name in QUESTION_FILES:
        questions.extend(read_jsonl(folder / name))
    return questions


def sample_lang(name: str) -> str | None:
    """The language of a bundled sample, from its file-name prefix (None: not a sample)."""
    return SAMPLE_LANGS.get(name[:4])


def sample_title(text: str) -> str:
    """The first non-empty line of four words or more (pages open with furniture)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for line in lines:
        if len(line.split()) >= 4:
            return line
    return lines[0] if lines else ""


def load_samples(folder: Path) -> list[Row]:
    """The bundled sample files as corpus rows, ids equal to their file names."""
    rows: list[Row] = []
    for path in sorted(folder.iterdir()):
        lang = sample_lang(path.name)
        if lang is None or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8-sig")
        rows.append({"id": path.name, "title": sample_title(text), "text": text, "lang": lang})
    return rows


def corpus_row(row: Row, lang: str) -> Row:
    """A scale-file row in the shared corpus format (meta kept when present)."""
    out: Row = {
        "id": str(row["id"]),
        "title": str(row.get("title") or ""),
        "text": str(row["text"]),
        "lang": str(row.get("lang") or lang),
    }
    if isinstance(row.get("meta"), dict):
        out["meta"] = row["meta"]
    return out


def check_answers(questions: list[Row], texts: dict[str, str]) -> list[str]:
    """Problems: gold ids not found, answers not verbatim in their gold text."""
    problems: list[str] = []
    for q in questions:
        gold = str(q["gold_passage_id"])
        if gold not in texts:
            problems.append(f"{q['id']}: gold {gold!r} not found")
            continue
        problems.extend(
            f"{q['id']}: answer {answer!r} not in {gold}"
            for answer in q.get("answers") or []
            if answer not in texts[gold]
        )
    return problems


def build(shared: Path, out: Path, distractors: int, seed: int) -> dict[str, dict[str, int]]:
    """Write the corpora; return per-language row counts (gold, distractors, samples)."""
    questions = load_questions(HERE)
    gold_ids = {str(q["gold_passage_id"]) for q in questions}
    samples = load_samples(SAMPLES)
    corpora: dict[str, list[Row]] = {lang: [] for lang in SCALE_FILES}
    counts: dict[str, dict[str, int]] = {}
    texts = {row["id"]: row["text"] for row in samples}
    for lang, name in SCALE_FILES.items():
        path = shared / "scale" / name
        if not path.exists():
            if lang != "ar":
                raise SystemExit(f"missing {path}; pass --shared DIR (the shared data folder)")
            print(f"note: {path} not found; corpus.ar.jsonl holds the Arabic sample only")
            rows: list[Row] = []
        else:
            rows = list(read_jsonl(path))
        gold = [corpus_row(r, lang) for r in rows if str(r.get("id")) in gold_ids]
        pool = [r for r in rows if str(r.get("id")) not in gold_ids]
        drawn = random.Random(f"{seed}:{lang}").sample(pool, min(distractors, len(pool)))
        lang_samples = [r for r in samples if r["lang"] == lang]
        corpora[lang] = gold + [corpus_row(r, lang) for r in drawn] + lang_samples
        texts.update({row["id"]: row["text"] for row in gold})
        counts[lang] = {
            "gold_articles": len(gold),
            "distractors": len(drawn),
            "samples": len(lang_samples),
            "gold_samples": sum(1 for r in lang_samples if r["id"] in gold_ids),
        }
    problems = check_answers(questions, texts)
    if problems:
        raise SystemExit("question set check failed:\n  " + "\n  ".join(problems))
    out.mkdir(parents=True, exist_ok=True)
    for lang, rows in corpora.items():
        target = out / f"corpus.{lang}.jsonl"
        with target.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        counts[lang]["rows"] = len(rows)
        c = counts[lang]
        print(
            f"wrote {target}: {c['rows']} rows ({c['gold_articles']} gold articles, "
            f"{c['distractors']} distractors, {c['samples']} bundled samples of which "
            f"{c['gold_samples']} gold)"
        )
    print(f"checked {len(questions)} questions: every gold found, every answer verbatim")
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=Path("/tmp/manba-xling-fa"), help="output folder"
    )
    parser.add_argument(
        "--distractors",
        type=int,
        default=300,
        help="distractor articles per language, drawn with a fixed seed (default 300)",
    )
    parser.add_argument(
        "--shared",
        type=Path,
        default=REPO.parent / "shared" / "data",
        help="the shared data folder (default ../shared/data from the repository root)",
    )
    parser.add_argument("--seed", type=int, default=SEED, help="seed of the distractor draw")
    args = parser.parse_args(argv)
    if args.distractors < 0:
        parser.error("--distractors must be 0 or more")
    build(args.shared.resolve(), args.out, args.distractors, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
