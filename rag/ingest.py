"""Files -> SourceDoc: decoding, document identity, title, language, metadata.

Reads .txt and .md (encoding detected: see ``rag.decoding``), saved web pages (.html/.htm, main
text only), .pdf (text layer in logical order), .docx, and .jsonl corpora (one article per line
with ``id``, ``title``, ``text``, optional ``lang``, and ``date``/``url``/``source`` at the top
level or in ``meta``). Problems are yielded as IngestError values, never raised, so a batch goes
on: a file over the size limit (checked from its size, before reading; for JSONL, each row),
a pipe or device, a link out of the folder given, a file with no words, and any parser that
fails on a hostile file each give one IngestError naming the file and the reason.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag import dates, docx_text, langs, pdf_text
from rag.decoding import Decoded, decode
from rag.errors import IngestError
from rag.furniture import furniture_spans
from rag.html_text import extract
from rag.types import SourceDoc

TEXT_SUFFIXES = frozenset({".txt", ".md"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | {".jsonl", ".pdf", ".docx"}
_SKIP_NAMES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
_TITLE_MAX = 200
_ID_MAX = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MB = 1024 * 1024
# The default of MANBA_INGEST__MAX_MB (rag.config.IngestSettings), for callers without settings.
DEFAULT_MAX_MB = 50
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _first_line(text: str) -> str:
    """The first line that reads like a title (three words or more), else the first line.

    Scraped pages often open with a counter or a tag ("بازدید 39171") before the headline.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines[:5]:
        if len(re.findall(r"[^\W\d_]{2,}", line)) >= 3:
            return line[:_TITLE_MAX]
    return lines[0][:_TITLE_MAX] if lines else ""


def _without(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with the given spans blanked (same length, so nothing else moves)."""
    if not spans:
        return text
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def _iso_date(value: Any) -> str:
    match = _DATE.match(str(value or "").strip())
    return "-".join(match.groups()) if match else ""


def make_doc(
    doc_id: str, text: str, path: str, *, title: str = "", lang: str = "", meta: dict[str, Any]
) -> SourceDoc:
    lang = lang if lang in langs.SUPPORTED else langs.detect(text[:4000])
    clean_meta = {k: v for k, v in meta.items() if v not in (None, "")}
    if "date" in clean_meta:
        # Only ISO dates take part in date filters; anything else is kept as written.
        iso = _iso_date(clean_meta["date"])
        if not iso:
            clean_meta["date_raw"] = str(clean_meta["date"])
        clean_meta["date"] = iso
        clean_meta["date_from"] = "metadata"
    if not clean_meta.get("date"):
        stated = dates.publication_date(text)
        clean_meta["date"] = stated
        clean_meta["date_from"] = "text" if stated else "none"
    if "source" in clean_meta:
        clean_meta["source_from"] = "metadata"
    elif stated_source := dates.stated_source(text):
        clean_meta["source"] = stated_source
        clean_meta["source_from"] = "text"
    # Page furniture (counters, share/comment forms, ad lists, datelines) is kept in the text
    # but recorded as spans that chunking skips; the title is the first line that is not.
    furniture = furniture_spans(text, title)
    if furniture:
        clean_meta["furniture"] = [list(span) for span in furniture]
    title = (title.strip() or _first_line(_without(text, furniture)))[:_TITLE_MAX]
    # The hash covers what is stored beside the text too (minus the line number, which moves
    # when other rows change): a corrected title, date or source is picked up on re-ingest.
    stored = {k: v for k, v in clean_meta.items() if k != "line"}
    fingerprint = json.dumps([text, title, lang, stored], ensure_ascii=False, sort_keys=True)
    return SourceDoc(
        doc_id=doc_id,
        text=text,
        title=title,
        path=path,
        lang=lang,
        content_hash=content_hash(fingerprint),
        meta=clean_meta,
    )


_NO_WORDS = (
    "no words to index (only spaces, punctuation or invisible marks); check that it is the "
    "file you meant"
)


def _has_words(text: str) -> bool:
    """Whether ``text`` has a letter or digit (stops at the first one: cheap on large texts)."""
    return any(c.isalnum() and c != "\u0640" for c in text)  # tatweel is no letter


def _read_decoded(path: Path) -> Decoded | IngestError:
    """The file's text, decoded, or the error that says why it cannot be read."""
    try:
        return decode(path.read_bytes(), str(path))
    except IngestError as err:
        return err
    except OSError as exc:
        return IngestError(str(path), f"cannot read the file: {exc.strerror}")


def _read_text_file(path: Path, doc_id: str) -> Iterator[SourceDoc | IngestError]:
    decoded = _read_decoded(path)
    if isinstance(decoded, IngestError):
        yield decoded
        return
    if not _has_words(decoded.text):
        yield IngestError(str(path), _NO_WORDS)
        return
    text, where, meta = decoded.text, str(path.resolve()), {"encoding": decoded.encoding}
    del decoded
    spans = text_parts(text)
    if len(spans) == 1:
        yield make_doc(doc_id, text, where, meta=meta)
        return
    # A very long text is indexed in parts, each a document of its own, so that an ingest
    # holds a few parts at a time and a citation opens a readable part, not the whole file.
    title = ""
    width = len(str(len(spans)))
    for n, (start, end) in enumerate(spans, start=1):
        part = text[start:end]
        if not title:
            title = make_doc(doc_id, part[:20_000], where, meta=meta).title
        yield make_doc(
            f"{doc_id}#part-{n:0{width}d}",
            part,
            where,
            title=f"{title} (part {n} of {len(spans)})",
            meta={**meta, "part": n, "parts": len(spans), "part_start": start},
        )


# Texts longer than this are indexed in parts (see ``text_parts``).
PART_CHARS = 1_000_000
_SENTENCE_END = re.compile(r"[.!?؟۔…][\"'»”)\]]*\s")


def text_parts(text: str, size: int | None = None) -> list[tuple[int, int]]:
    """Spans of ``text`` of at most ``size`` (``PART_CHARS``) characters that cover it in
    order, each cut after the last blank line in its second half, else the last line break,
    else the last sentence end, else the last space, else at ``size`` (one span when the
    text is short)."""
    size = size or PART_CHARS
    spans: list[tuple[int, int]] = []
    start = 0
    while len(text) - start > size:
        end, floor = start + size, start + size // 2
        cut = text.rfind("\n\n", floor, end)
        if cut >= 0:
            cut += 2
        elif (cut := text.rfind("\n", floor, end)) >= 0:
            cut += 1
        else:
            ends = [m.end() for m in _SENTENCE_END.finditer(text, floor, end)]
            cut = ends[-1] if ends else text.rfind(" ", floor, end) + 1 or end
        spans.append((start, cut))
        start = cut
    spans.append((start, len(text)))
    return spans


def _read_html(path: Path, doc_id: str) -> Iterator[SourceDoc | IngestError]:
    decoded = _read_decoded(path)
    if isinstance(decoded, IngestError):
        yield decoded
        return
    page = extract(decoded.text)
    if not page.text.strip() or not _has_words(page.text):
        yield IngestError(
            str(path), "an HTML page with no main text (only scripts, menus or forms)"
        )
        return
    meta = {"encoding": decoded.encoding, "format": "html", "date": page.date}
    yield make_doc(doc_id, page.text, str(path.resolve()), title=page.title, meta=meta)


def _read_bytes(path: Path) -> bytes | IngestError:
    try:
        return path.read_bytes()
    except OSError as exc:
        return IngestError(str(path), f"cannot read the file: {exc.strerror}")


def _read_pdf(path: Path, doc_id: str) -> Iterator[SourceDoc | IngestError]:
    data = _read_bytes(path)
    if isinstance(data, IngestError):
        yield data
        return
    try:
        pdf = pdf_text.extract(data, str(path))
    except IngestError as err:
        yield err
        return
    meta = {"format": "pdf", "pages": pdf.pages}
    yield make_doc(doc_id, pdf.text, str(path.resolve()), title=pdf.title, meta=meta)


def _read_docx(path: Path, doc_id: str) -> Iterator[SourceDoc | IngestError]:
    data = _read_bytes(path)
    if isinstance(data, IngestError):
        yield data
        return
    try:
        doc = docx_text.extract(data, str(path))
    except IngestError as err:
        yield err
        return
    yield make_doc(doc_id, doc.text, str(path.resolve()), title=doc.title, meta={"format": "docx"})


def _read_jsonl(
    path: Path, rel: str, max_mb: int = DEFAULT_MAX_MB
) -> Iterator[SourceDoc | IngestError]:
    """One document per row. The size limit is a row's, not the file's: a corpus of many
    articles is one large file."""
    decoded = _read_decoded(path)
    if isinstance(decoded, IngestError):
        yield decoded
        return
    text = decoded.text
    seen: set[str] = set()
    # Lines end at \n, \r\n or \r only: str.splitlines also splits at U+2028, U+2029 and
    # U+0085, which JSON allows unescaped inside a string (json.dumps with ensure_ascii=False
    # writes them raw), and would cut such a row in two.
    for lineno, line in enumerate(_LINE_BREAK.split(text), start=1):
        if not line.strip():
            continue
        if len(line) > max_mb * MB // 4 and len(line.encode("utf-8")) > max_mb * MB:
            yield IngestError(
                str(path),
                f"this row is {_size(len(line.encode('utf-8')) / MB)} MB, over the {max_mb} MB "
                "limit for one document (MANBA_INGEST__MAX_MB); raise it to index this row",
                line=lineno,
            )
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            yield IngestError(
                str(path), f"not valid JSON ({exc.msg}); fix or remove the line", line=lineno
            )
            continue
        if not isinstance(row, dict):
            yield IngestError(str(path), "a line must be a JSON object", line=lineno)
            continue
        body = row.get("text")
        if not isinstance(body, str) or not body.strip():
            yield IngestError(
                str(path),
                "no 'text' field (or it is empty); every line needs the article text in 'text'",
                line=lineno,
            )
            continue
        raw_id = row.get("id")
        if raw_id is None or raw_id == "":
            row_id = f"line{lineno}"
        elif isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
            yield IngestError(str(path), "'id' must be a string or a whole number", line=lineno)
            continue
        else:
            row_id = str(raw_id)
        if len(row_id) > _ID_MAX or _CONTROL.search(row_id):
            yield IngestError(
                str(path),
                f"'id' must be at most {_ID_MAX} characters with no control characters",
                line=lineno,
            )
            continue
        if row_id in seen:
            yield IngestError(
                str(path), f"duplicate id {row_id!r}; ids must be unique in a file", line=lineno
            )
            continue
        seen.add(row_id)
        meta_field = row.get("meta")
        nested: dict[str, Any] = meta_field if isinstance(meta_field, dict) else {}
        meta = {key: row.get(key, nested.get(key)) for key in ("date", "url", "source")}
        meta["line"] = lineno
        yield make_doc(
            f"{rel}#{row_id}",
            body,
            str(path.resolve()),
            title=str(row.get("title") or nested.get("title") or ""),
            lang=str(row.get("lang") or ""),
            meta=meta,
        )


def _size(mb: float) -> str:
    return f"{mb:.0f}" if mb >= 10 else f"{mb:.1f}"


def _refusal(path: Path, max_mb: int) -> IngestError | None:
    """Why ``path`` is not read at all (not a regular file, over the size limit), from its
    metadata only: a 200 MB file or a pipe that never ends is refused before reading. A JSONL
    corpus holds many documents: its rows are checked against the limit instead."""
    try:
        info = path.stat()
    except OSError as exc:
        return IngestError(str(path), f"cannot read the file: {exc.strerror}")
    if not stat.S_ISREG(info.st_mode):
        return IngestError(
            str(path), "not a regular file (a pipe, socket or device); give Manba files only"
        )
    if info.st_size > max_mb * MB and path.suffix.lower() != ".jsonl":
        return IngestError(
            str(path),
            f"{_size(info.st_size / MB)} MB is over the {max_mb} MB limit for one file "
            "(MANBA_INGEST__MAX_MB); raise it to index this file",
        )
    return None


def _read_file(
    path: Path, rel: str, max_mb: int = DEFAULT_MAX_MB
) -> Iterator[SourceDoc | IngestError]:
    refused = _refusal(path, max_mb)
    if refused is not None:
        yield refused
        return
    try:
        yield from _parse_file(path, rel, max_mb)
    except RecursionError:
        yield IngestError(str(path), "could not be read (its structure nests too deeply)")
    except Exception as exc:  # a parser that fails on a hostile file must not end the batch
        yield IngestError(
            str(path),
            f"could not be read ({type(exc).__name__}: {exc}); is the file complete and of "
            "the type its name says?",
        )


def _parse_file(path: Path, rel: str, max_mb: int) -> Iterator[SourceDoc | IngestError]:
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES:
        yield from _read_text_file(path, rel)
    elif suffix in HTML_SUFFIXES:
        yield from _read_html(path, rel)
    elif suffix == ".jsonl":
        yield from _read_jsonl(path, rel, max_mb)
    elif suffix == ".pdf":
        yield from _read_pdf(path, rel)
    elif suffix == ".docx":
        yield from _read_docx(path, rel)
    else:
        known = ", ".join(sorted(SUPPORTED_SUFFIXES))
        yield IngestError(
            str(path), f"unsupported file type {suffix or '(none)'!r}; Manba reads {known}"
        )


@dataclass(frozen=True)
class Skipped:
    """A file in a folder that Manba does not read (its type is not supported)."""

    path: str
    suffix: str


def _walk(paths: list[str | Path]) -> Iterator[tuple[Path, str] | IngestError | Skipped]:
    """(file, its doc_id) for every file under ``paths``, in a stable order.

    A file of a type Manba does not read is an error when given by name and skipped (and
    counted) when found in a folder.
    """
    for given in paths:
        root = Path(given)
        if root.is_file():
            yield root, root.name
        elif root.is_dir():
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    if name.startswith(".") or name in _SKIP_NAMES:
                        continue
                    path = Path(dirpath) / name
                    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
                        yield Skipped(str(path), path.suffix.lower() or "(none)")
                        continue
                    if path.is_symlink() and not _inside(path, root):
                        # Folders given are read, never what their links point to elsewhere
                        # (os.walk does not follow linked folders either).
                        yield IngestError(
                            str(path),
                            "a link to a file outside the folder given; give that file itself "
                            "to index it",
                        )
                        continue
                    yield path, path.relative_to(root).as_posix()
        elif root.exists():
            yield root, root.name  # a pipe or device given by name: refused with the reason
        else:
            yield IngestError(str(root), "no such file or folder")


def _inside(path: Path, root: Path) -> bool:
    """Whether ``path``, links resolved, is under ``root`` (links resolved too)."""
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError, RuntimeError):
        return False
    return True


def count_files(paths: list[str | Path]) -> int:
    """How many files ``iter_sources`` will read (for a progress bar)."""
    return sum(1 for item in _walk(paths) if isinstance(item, tuple))


def iter_sources(
    paths: list[str | Path],
    on_file: Callable[[Path], None] | None = None,
    *,
    max_mb: int = DEFAULT_MAX_MB,
) -> Iterator[SourceDoc | IngestError | Skipped]:
    """Documents (or errors) from files and folders, in a stable order.

    ``doc_id`` is the path relative to the folder given (a file given directly: its name);
    for JSONL it is that plus ``#`` and the row's id. ``on_file`` is called after each file.
    A file larger than ``max_mb`` MB (``settings.ingest.max_mb``) is reported, not read.
    """
    for item in _walk(paths):
        if not isinstance(item, tuple):
            yield item
            continue
        path, rel = item
        yield from _read_file(path, rel, max_mb)
        if on_file:
            on_file(path)
