"""The text of a Word document (.docx) with python-docx: paragraphs and tables in body order.

A .docx is a zip archive; before python-docx opens it, the archive is checked so that a file
that is not a zip, not a Word document, or a zip bomb (a few KB that inflate to gigabytes) is
refused with a message instead of exhausting memory. The declared sizes (the zip's directory)
are checked first, then every member is inflated in 1 MB steps before python-docx reads it: a
member that inflates past its declared size (a forged directory) fails its CRC check there,
with memory bounded, instead of being inflated whole by python-docx. Word stores right-to-left
text in logical order, so nothing is reordered. The document's core "title" property becomes
the title.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from typing import Any

from rag.errors import IngestError

# Limits on what the archive may inflate to; real news documents are far below them.
MAX_INFLATED_BYTES = 200 * 1024 * 1024
MAX_RATIO = 200
_STEP = 1024 * 1024


@dataclass
class DocxText:
    text: str
    title: str = ""


def _check_archive(data: bytes, path: str) -> None:
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise IngestError(
            path, "not a .docx (the file is not a zip archive); save it again as Word .docx"
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise IngestError(path, f"not a readable .docx ({exc})") from exc
    names = {info.filename for info in infos}
    if "word/document.xml" not in names:
        raise IngestError(path, "a zip archive but not a Word document (no word/document.xml)")
    inflated = sum(info.file_size for info in infos)
    packed = max(1, sum(info.compress_size for info in infos))
    bomb = inflated > 10 * 1024 * 1024 and inflated > MAX_RATIO * packed
    if inflated > MAX_INFLATED_BYTES or bomb:
        raise IngestError(
            path,
            f"refused: the archive inflates to {inflated / 1e6:.0f} MB from {packed / 1e6:.1f} MB "
            "(a zip bomb or a document far larger than text needs)",
        )
    _check_members(data, path)


def _check_members(data: bytes, path: str) -> None:
    """Inflate every member in bounded steps: zipfile stops at the declared size and checks
    the CRC, so a member whose directory entry understates it is caught here. python-docx
    reads a member in one call, which inflates all of it at once whatever was declared."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                if info.is_dir():
                    continue
                with archive.open(info) as member:
                    while member.read(_STEP):
                        pass
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise IngestError(
            path,
            f"refused: a damaged or forged archive ({exc}); a member does not match its "
            "declared size (a zip bomb?) or the file is incomplete",
        ) from exc
    except (OSError, ValueError, NotImplementedError, EOFError, RuntimeError) as exc:
        raise IngestError(path, f"not a readable .docx ({type(exc).__name__}: {exc})") from exc


def _blocks(document: Any) -> list[str]:
    """Paragraph texts in body order; each table row becomes one line of its cells."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            lines.append(block.text)
        elif isinstance(block, Table):
            for row in block.rows:
                cells: list[str] = []
                for cell in row.cells:
                    text = " ".join(p.text.strip() for p in cell.paragraphs if p.text.strip())
                    if text and (not cells or cells[-1] != text):  # merged cells repeat
                        cells.append(text)
                if cells:
                    lines.append(" | ".join(cells))
    return lines


def extract(data: bytes, path: str) -> DocxText:
    """The text of the .docx in ``data``; IngestError naming ``path`` when it has none."""
    _check_archive(data, path)
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
        lines = _blocks(document)
        title = " ".join((document.core_properties.title or "").split())
    except (PackageNotFoundError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        reason = f"not a readable Word document ({type(exc).__name__}: {exc})"
        raise IngestError(path, reason) from exc
    except Exception as exc:  # lxml XMLSyntaxError and friends: a damaged document
        raise IngestError(path, f"a damaged Word document ({type(exc).__name__}: {exc})") from exc
    paragraphs = [" ".join(line.replace("\t", " ").split("\n")).strip() for line in lines]
    text = "\n".join(p for p in paragraphs if p)
    if not any(ch.isalpha() for ch in text):
        raise IngestError(path, "a Word document with no text (only images or empty pages?)")
    return DocxText(text=text, title=title)
