"""Draw news articles from a scale corpus as same-language distractors for an evaluation.

    python benchmarks/distractors.py ../shared/data/scale/antcorpus.ar.jsonl --n 3000 \
        --out /tmp/distractors.ar.jsonl

A fixed seed makes the draw the same on every machine. Rows are written as they are, so their
ids stay namespaced and never collide with the dev set's.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="a corpus JSONL file from ../shared/data/scale")
    parser.add_argument("--n", type=int, default=3000, help="articles to draw (default 3000)")
    parser.add_argument("--seed", type=int, default=1404)
    parser.add_argument("--out", type=Path, required=True, help="JSONL file to write")
    args = parser.parse_args(argv)
    if not args.source.is_file():
        print(
            f"error: {args.source} not found; pass a file from ../shared/data/scale",
            file=sys.stderr,
        )
        return 2
    lines = [line for line in args.source.read_text("utf-8").splitlines() if line.strip()]
    chosen = random.Random(args.seed).sample(lines, min(args.n, len(lines)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(chosen) + "\n", "utf-8")
    print(f"{args.out}: {len(chosen)} articles from {args.source.name} (seed {args.seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
