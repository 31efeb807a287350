"""Prompt templates as files in ``prompts/``, with their variables declared and checked.

A template file starts with ``#`` comment lines, one of which is ``# variables: a, b``; then a
``---SYSTEM---`` part and a ``---USER---`` part. Loading refuses a template whose placeholders
and declared variables differ; rendering refuses a missing or extra value. Values are inserted
as they are (never formatted again), so braces in a question or a document stay text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rag.errors import ConfigError

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_PARTS = re.compile(r"^---(SYSTEM|USER)---$", re.MULTILINE)


@dataclass(frozen=True)
class Prompt:
    name: str
    variables: frozenset[str]
    system: str
    user: str

    def render(self, **values: str) -> tuple[str, str]:
        """(system, user) messages with every declared variable filled in."""
        missing = self.variables - values.keys()
        extra = values.keys() - self.variables
        if missing or extra:
            raise ConfigError(
                f"prompt {self.name!r} takes {', '.join(sorted(self.variables))}; "
                f"missing {sorted(missing)}, unknown {sorted(extra)}"
            )
        return _fill(self.system, values), _fill(self.user, values)


def _fill(template: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def parse(name: str, text: str) -> Prompt:
    """A template from its file text; ConfigError naming the file when it is inconsistent."""
    where = f"prompts/{name}.txt"
    declared: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# variables:"):
            declared = {v.strip() for v in line.split(":", 1)[1].split(",") if v.strip()}
    parts = _PARTS.split(text)
    # ['header', 'SYSTEM', system, 'USER', user]
    if len(parts) != 5 or parts[1] != "SYSTEM" or parts[3] != "USER":
        raise ConfigError(f"{where} needs a ---SYSTEM--- part followed by a ---USER--- part")
    system, user = parts[2].strip("\n"), parts[4].strip("\n")
    used = set(_PLACEHOLDER.findall(system + user))
    if used != declared:
        raise ConfigError(
            f"{where}: declared variables {sorted(declared)} but the template uses "
            f"{sorted(used)}; make the '# variables:' line match the placeholders"
        )
    return Prompt(name, frozenset(declared), system, user)


@lru_cache(maxsize=16)
def load(name: str, folder: Path = PROMPTS_DIR) -> Prompt:
    path = folder / f"{name}.txt"
    if not path.is_file():
        raise ConfigError(f"prompt template {path} is missing; restore it from the repository")
    return parse(name, path.read_text("utf-8"))
