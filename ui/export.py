"""An answer with its citations as Markdown, for download or copying.

The answer keeps its ``[n]`` markers; a numbered source list follows with each citation's doc
id, title, language, outlet, date and quoted sentence. Document text is data here too: its
Markdown and HTML characters are backslash-escaped (a viewer shows them, never renders them),
line breaks become spaces and bidi controls are dropped. The JSON download keeps the exact
stored text (``rag.engine.answer_to_dict``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from rag.types import Answer, DocInfo
from ui.render import BIDI_CONTROLS

_DROP_BIDI = str.maketrans(dict.fromkeys(BIDI_CONTROLS))
_LINE_BREAK = re.compile(r"\r\n|[\r\n\u2028\u2029]")
# The characters that make inline markup anywhere in a line (links and images need brackets,
# HTML needs <, entities &, emphasis * _ ~, code `, tables |), backslash-escaped as CommonMark
# allows; a line-starting - + # or "1." (lists, headings) is escaped too. Other punctuation
# stays as written, so most quotes read exactly as in the document.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>&|~])")
_MD_LINE_START = re.compile(r"^(\s*)([-+#>])")
_MD_ORDERED = re.compile(r"^(\s*\d+)([.)])")
_MARKER = re.compile(r"\[(\d+)\]")


def md_text(text: str) -> str:
    """Document text as inert Markdown on one line."""
    text = _LINE_BREAK.sub(" ", text.translate(_DROP_BIDI))
    text = _MD_SPECIAL.sub(r"\\\1", text)
    text = _MD_LINE_START.sub(r"\1\\\2", text, count=1)
    return _MD_ORDERED.sub(r"\1\\\2", text, count=1)


def _answer_line(line: str, numbers: set[int]) -> str:
    """One answer line: text escaped, Manba's own ``[n]`` markers kept as they are."""
    out, pos = [], 0
    for m in _MARKER.finditer(line):
        if int(m.group(1)) in numbers:
            out.append(md_text(line[pos : m.start()]) + m.group(0))
            pos = m.end()
    out.append(md_text(line[pos:]))
    return "".join(out)


def answer_markdown(answer: Answer, info: Callable[[str], DocInfo | None]) -> str:
    """The answer and its numbered sources as Markdown; ``info(doc_id)`` gives outlet and
    date (None when unknown)."""
    numbers = {c.n for c in answer.citations}
    lines = ["# " + md_text(answer.question), ""]
    if answer.abstained:
        lines += ["*No answer found in the documents.*", ""]
    lines += [_answer_line(line, numbers) for line in _LINE_BREAK.split(answer.answer) if line]
    if answer.citations:
        lines += ["", "## Sources", ""]
        for c in answer.citations:
            doc = info(c.doc_id)
            facts = [f"doc id `{c.doc_id.replace('`', '')}`", f"language {c.lang}"]
            if doc and doc.source:
                facts.append(f"outlet {md_text(doc.source)}")
            facts.append(f"date {md_text(doc.date)}" if doc and doc.date else "date unknown")
            facts.append(f"characters {c.start}–{c.end}")
            lines += [
                f"{c.n}. **{md_text(c.title) or md_text(c.doc_id)}** — {', '.join(facts)}",
                "",
                f"   > {md_text(c.quote)}",
                "",
            ]
    return "\n".join(lines).rstrip() + "\n"
