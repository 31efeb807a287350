"""Faithfulness judged by the connected model: is each answer sentence supported by the
passages it cites? Used by ``manba eval --judge``; the template is ``prompts/judge_faithfulness``.
A reply the code cannot read counts the sentence as unsupported and says so in a warning."""

from __future__ import annotations

import logging
import re

from rag import prompts
from rag.llm import ChatModel

logger = logging.getLogger(__name__)
_VERDICT = re.compile(
    r"^\s*(\d+)\s*[:.)-]\s*(SUPPORTED|UNSUPPORTED)\b", re.IGNORECASE | re.MULTILINE
)


def render_items(items: list[tuple[str, list[str]]]) -> str:
    blocks = []
    for n, (sentence, passages) in enumerate(items, start=1):
        cited = "\n".join(f"<<<passage\n{p.strip()}\n>>>" for p in passages) or "(cites nothing)"
        blocks.append(f"Sentence {n}: <<<{sentence.strip()}>>>\nCited passages:\n{cited}")
    return "\n\n".join(blocks)


def parse_verdicts(reply: str, count: int) -> list[bool | None]:
    """Verdicts by sentence number; None where the reply says nothing readable."""
    out: list[bool | None] = [None] * count
    for m in _VERDICT.finditer(reply):
        n = int(m.group(1))
        if 1 <= n <= count and out[n - 1] is None:
            out[n - 1] = m.group(2).upper() == "SUPPORTED"
    return out


class ModelJudge:
    def __init__(self, model: ChatModel) -> None:
        self.model = model
        self.prompt = prompts.load("judge_faithfulness")
        self.unreadable = 0

    def __call__(self, items: list[tuple[str, list[str]]], lang: str) -> list[bool]:
        system, user = self.prompt.render(items=render_items(items), count=str(len(items)))
        verdicts = parse_verdicts(self.model.complete(system, user), len(items))
        missing = sum(v is None for v in verdicts)
        if missing:
            self.unreadable += missing
            logger.warning("the judge gave no readable verdict for %d sentence(s)", missing)
        return [bool(v) for v in verdicts]
