"""The library page: the documents in the index, one document whole, uploads, removal and the
index's health.

The work that writes (``index_uploads``, ``remove_document``) is plain functions of settings
and bytes, called by the page and tested without Streamlit. Everything a user or a document
supplies (titles, file names, text, error reasons) is data: it is written through
``ui.render.safe`` into HTML blocks that carry their own direction, never as Markdown.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import streamlit as st

from rag.config import Settings
from rag.engine import Engine
from rag.errors import IngestError, ManbaError
from rag.indexing import Progress, index_paths, remove_documents
from rag.ingest import SUPPORTED_SUFFIXES
from rag.langs import direction
from rag.normalize import normalize
from rag.store import DocRow, writer
from ui.document import render_document
from ui.render import LANG_NAMES, block, message, safe

logger = logging.getLogger("manba.app")

MB = 1024 * 1024  # Streamlit's maxUploadSize counts megabytes of 1024 * 1024 bytes
UPLOADS = "uploads"  # uploaded originals, under the index folder
_PREVIOUS = ".previous"  # an upload being replaced waits here until the new one is indexed
_NAME_BYTES = 200  # longest stored file name, in UTF-8 bytes (file systems allow 255)
PAGE_SIZE = 50
# Bidi embeddings, overrides and isolates: a name must not reorder the text around it.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")
_RESERVED = frozenset('/\\:*?"<>|')
_FSI, _PDI = "\u2068", "\u2069"  # first-strong isolate: a name in a sentence keeps its order
# Sessions of one server write the index one after another: the index's lock refuses a second
# writer at once (IndexBusyError), which two people uploading at the same time would meet.
_WRITING = threading.Lock()

# --- names -------------------------------------------------------------------------------


def display_name(name: str) -> str:
    """An uploaded name as shown to the user: NFC, without control or bidi characters."""
    name = unicodedata.normalize("NFC", name)
    return "".join(
        " " if c in "\t\n\r" else c
        for c in name
        if c in "\t\n\r" or (unicodedata.category(c) != "Cc" and c not in _BIDI_CONTROLS)
    ).strip()


def safe_file_name(name: str) -> str:
    """A file name for the uploads folder: the last part of ``name`` only (no folder, no
    ``..``), no control, bidi or reserved characters, no leading dot, at most 200 UTF-8
    bytes with the extension kept. Persian, Arabic and emoji names keep their letters."""
    base = display_name(name).replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join("_" if c in _RESERVED else c for c in base)
    base = " ".join(base.split()).lstrip(". ")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    else:
        suffix = "." + suffix
    stem = stem.rstrip(". ") or "upload"
    while len((stem + suffix).encode("utf-8")) > _NAME_BYTES and len(stem) > 1:
        stem = stem[:-1]
    if len((stem + suffix).encode("utf-8")) > _NAME_BYTES:  # an absurd extension
        suffix = ""
    return stem + suffix


def _numbered(name: str, n: int) -> str:
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem:
        return f"{name} ({n})"
    return f"{stem} ({n}).{suffix}"


def _is_ours(doc_id: str, name: str) -> bool:
    """Whether ``doc_id`` is a document of the uploaded file ``name`` (JSONL: ``name#id``)."""
    return doc_id == name or doc_id.startswith(name + "#")


# --- uploads ------------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadResult:
    """What became of one uploaded file. ``status``: added, updated, unchanged or failed;
    ``problems`` are the reasons it (or some of its JSONL rows) could not be indexed."""

    name: str
    stored_as: str
    status: str
    doc_ids: tuple[str, ...] = ()
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return self.status != "failed"


def uploads_dir(settings: Settings) -> Path:
    return settings.index_dir / UPLOADS


def _reason(err: IngestError) -> str:
    where = f"line {err.line}: " if err.line is not None else ""
    return where + " ".join(err.reason.split())


def check_upload(name: str, size: int, max_mb: int) -> str | None:
    """Why an upload is refused before it is written (type, size, empty), or None."""
    suffix = Path(safe_file_name(name)).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        known = " ".join(sorted(SUPPORTED_SUFFIXES))
        return f"unsupported file type {suffix or '(none)'!r}; Manba reads {known}"
    if size > max_mb * MB:
        return f"{size / MB:.1f} MB is over the limit of {max_mb} MB per file"
    if size == 0:
        return "the file is empty: nothing to index"
    return None


def index_uploads(
    files: Sequence[tuple[str, bytes]],
    settings: Settings,
    progress: Callable[[Progress], None] | None = None,
) -> list[UploadResult]:
    """Write uploaded files (name, content) to ``<index>/uploads`` and index them.

    Files of other types, over ``settings.upload.max_mb`` or empty are refused unwritten.
    The rest are indexed in one batch: a file that cannot be read is reported with the
    reason and deleted again (an earlier upload of the same name is put back), the others
    are indexed, and nothing already indexed is lost. A document's id is its stored file
    name; a name already used by a document from elsewhere gets a number, " (2)".
    """
    with _WRITING:
        return _index_uploads(files, settings, progress)


def _index_uploads(
    files: Sequence[tuple[str, bytes]],
    settings: Settings,
    progress: Callable[[Progress], None] | None,
) -> list[UploadResult]:
    results: dict[int, UploadResult] = {}
    todo: list[tuple[int, str, bytes]] = []
    for i, (name, content) in enumerate(files):
        shown = display_name(name) or "(no name)"
        problem = check_upload(name, len(content), settings.upload.max_mb)
        if problem:
            results[i] = UploadResult(shown, "", "failed", problems=(problem,))
        else:
            todo.append((i, shown, content))
    if not todo:
        return [results[i] for i in range(len(files))]
    shown_as = {i: shown for i, shown, _ in todo}
    folder = uploads_dir(settings)
    try:
        with writer(settings) as w:
            stored = dict(w.stored_paths())
    except ManbaError as err:
        for i, shown, _ in todo:
            results[i] = UploadResult(shown, "", "failed", problems=(str(err),))
        return [results[i] for i in range(len(files))]
    folder.mkdir(parents=True, exist_ok=True)
    resolved = folder.resolve()
    taken: set[str] = set()
    saved: list[tuple[int, str, Path, Path | None]] = []  # index, name, file, previous copy
    for i, shown, content in todo:
        base = safe_file_name(shown)
        name, n = base, 1
        while name.casefold() in taken or any(
            _is_ours(doc_id, name) and Path(path) != resolved / name
            for doc_id, path in stored.items()
        ):
            n += 1
            name = _numbered(base, n)
        taken.add(name.casefold())
        target = folder / name
        previous = None
        if target.exists():
            previous = folder / _PREVIOUS / name
            previous.parent.mkdir(exist_ok=True)
            target.replace(previous)
        tmp = folder / f".{name}.part"
        tmp.write_bytes(content)
        tmp.replace(target)
        saved.append((i, name, target, previous))
    try:
        report = index_paths([t for _, _, t, _ in saved], settings, progress=progress)
    except Exception as exc:
        if isinstance(exc, ManbaError):
            reason = str(exc)
        else:
            logger.exception("could not index uploads into %s", settings.index_dir)
            reason = f"could not be indexed ({type(exc).__name__})"
        for i, name, target, previous in saved:
            _put_back(target, previous)
            results[i] = UploadResult(shown_as[i], name, "failed", problems=(reason,))
        return [results[i] for i in range(len(files))]
    for i, name, target, previous in saved:
        problems = tuple(
            _reason(e) for e in report.failed if Path(e.path).resolve() == target.resolve()
        )
        by_status = (
            ("added", report.added),
            ("updated", report.updated),
            ("unchanged", report.unchanged),
        )
        doc_ids = tuple(d for _, ids in by_status for d in ids if _is_ours(d, name))
        status = next((s for s, ids in by_status if any(_is_ours(d, name) for d in ids)), "")
        if not doc_ids:
            _put_back(target, previous)
            status, problems = "failed", problems or ("no document could be read from it",)
        elif previous is not None:
            previous.unlink(missing_ok=True)
        results[i] = UploadResult(shown_as[i], name, status, doc_ids, problems)
    return [results[i] for i in range(len(files))]


def _put_back(target: Path, previous: Path | None) -> None:
    """Undo writing an upload that was not indexed: the earlier file of that name returns."""
    if previous is not None and previous.exists():
        previous.replace(target)
    else:
        target.unlink(missing_ok=True)


def remove_document(doc_id: str, settings: Settings) -> bool:
    """Remove one document from the index (the derived indexes follow). An uploaded original
    that no other document comes from is deleted too; files elsewhere are never touched."""
    with _WRITING:
        with writer(settings) as w:
            paths = dict(w.stored_paths())
        removed, _ = remove_documents([doc_id], settings)
        path = paths.get(doc_id)
        if removed and path:
            source = Path(path)
            shared = any(p == path for d, p in paths.items() if d != doc_id)
            if not shared and source.parent == uploads_dir(settings).resolve():
                source.unlink(missing_ok=True)
        return bool(removed)


# --- listing ------------------------------------------------------------------------------


def matches(row: DocRow, query: str) -> bool:
    """Whether the title, doc id or source holds ``query``, folded as search folds text
    (letter variants, digits, diacritics, case), so any script matches its variants."""
    wanted = normalize(query)
    if not wanted:
        return True
    info = row.info
    return any(wanted in normalize(part) for part in (info.title, info.doc_id, info.source))


def _title_key(row: DocRow) -> tuple[str, str]:
    return normalize(row.info.title), row.info.doc_id


SORTS: dict[str, Callable[[DocRow], Any]] = {
    "Document id": lambda r: r.info.doc_id,
    "Title": _title_key,
    "Date": lambda r: (r.info.date or "", r.info.doc_id),
    "Language": lambda r: (r.info.lang, r.info.doc_id),
    "Chunks": lambda r: (r.chunks, r.info.doc_id),
    "Indexed": lambda r: (r.indexed_at, r.info.doc_id),
}


def sort_rows(rows: list[DocRow], by: str, descending: bool = False) -> list[DocRow]:
    """``rows`` sorted by a ``SORTS`` key; undated documents come last either way, by id."""
    if by != "Date":
        return sorted(rows, key=SORTS[by], reverse=descending)
    dated = sorted((r for r in rows if r.info.date), key=SORTS[by], reverse=descending)
    return dated + sorted((r for r in rows if not r.info.date), key=lambda r: r.info.doc_id)


def when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _isolated(text: str) -> str:
    return f"{_FSI}{text}{_PDI}"


def doc_label(row: DocRow) -> str:
    """A document in the picker: title and doc id, each isolated so neither reorders."""
    return f"{_isolated(row.info.title)} · {_isolated(row.info.doc_id)}"


_COLUMNS = (  # header, width; the header also labels the cell on a narrow screen
    ("Title · document id", 36),
    ("Source", 15),
    ("Date", 13),
    ("Language", 11),
    ("Chunks", 8),
    ("Indexed", 17),
)


def rows_table(rows: list[DocRow]) -> str:
    """The documents as one HTML table (one line: no line end may split the HTML block)."""
    cols = "".join(f'<col style="width: {w}%">' for _, w in _COLUMNS)
    head = "".join(f"<th>{h}</th>" for h, _ in _COLUMNS)
    labels = [h for h, _ in _COLUMNS]
    body = []
    for r in rows:
        d = r.info
        title = (
            f'<td dir="{direction(d.lang)}" lang="{safe(d.lang)}" class="manba-lib-title" '
            f'style="unicode-bidi: plaintext; text-align: start;">{safe(d.title)}'
            f'<br><code dir="ltr">{safe(d.doc_id)}</code></td>'
        )
        cells = [
            f"<bdi>{safe(d.source)}</bdi>" if d.source else "—",
            safe(d.date) or "—",
            safe(d.lang),
            str(r.chunks),
            safe(when(r.indexed_at)),
        ]
        rest = "".join(
            f'<td data-label="{label}">{cell}</td>'
            for label, cell in zip(labels[1:], cells, strict=True)
        )
        body.append(
            f'<tr data-doc-id="{safe(d.doc_id)}" data-lang="{safe(d.lang)}">{title}{rest}</tr>'
        )
    return (
        '<table class="manba-library manba-docs" style="width: 100%; table-layout: fixed;">'
        f"<colgroup>{cols}</colgroup><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


# Long words, URLs and ids wrap instead of widening the page; on a narrow screen each row of
# the documents table becomes a small card (title first, the other cells labelled below it).
_CSS = (
    "<style>.manba-library td, .manba-text, .manba-lib-note "
    "{ overflow-wrap: anywhere; } "
    ".manba-library th { text-align: start; overflow-wrap: normal; hyphens: auto; } "
    "@media (max-width: 640px) { "
    ".manba-docs colgroup, .manba-docs thead { display: none; } "
    ".manba-docs, .manba-docs tbody, .manba-docs tr { display: block; width: 100%; } "
    ".manba-docs tr { padding: 0.4rem 0; border-bottom: 1px solid rgba(128, 128, 128, 0.3); } "
    ".manba-docs td { display: inline-block; border: none; padding: 0.1rem 0.5rem 0.1rem 0; } "
    ".manba-docs td.manba-lib-title { display: block; } "
    ".manba-docs td[data-label]::before { content: attr(data-label) ': '; opacity: 0.7; } "
    "}</style>"
)


# --- health -------------------------------------------------------------------------------


def folder_size(path: Path, skip: str = "") -> int:
    """Bytes of the files under ``path`` (``skip``: a top-level folder left out)."""
    total = 0
    for dirpath, dirnames, filenames in os.walk(path):
        if Path(dirpath) == path and skip in dirnames:
            dirnames.remove(skip)
        for name in filenames:
            try:
                total += (Path(dirpath) / name).stat().st_size
            except OSError:
                continue
    return total


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def read_manifest(settings: Settings) -> dict[str, Any]:
    path = settings.index_dir / "manifest.json"
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def language_counts(engine: Engine | None, rows: list[DocRow]) -> list[tuple[str, int, int]]:
    """(language, documents, chunks) per language: documents by their language, chunks by
    their own (a chunk can differ from its document, e.g. an English quote in Persian)."""
    docs = Counter(r.info.lang for r in rows)
    chunks: Counter[str] = Counter(engine.reader.langs.tolist()) if engine else Counter()
    order = [lang for lang in ("fa", "ar", "en") if lang in docs or lang in chunks]
    order += sorted((set(docs) | set(chunks)) - set(order))
    return [(lang, docs[lang], chunks[lang]) for lang in order]


def render_health(engine: Engine | None, rows: list[DocRow], settings: Settings) -> None:
    st.subheader("Index health")
    manifest = read_manifest(settings)
    counts = manifest.get("counts", {}) if isinstance(manifest.get("counts"), dict) else {}
    index_dir = settings.index_dir
    uploads = uploads_dir(settings)
    on_disk = folder_size(index_dir, skip=UPLOADS) if index_dir.exists() else 0
    uploaded = folder_size(uploads) if uploads.exists() else 0
    cols = st.columns(4)
    cols[0].metric("Documents", len(rows) if engine else int(counts.get("documents", 0)))
    cols[1].metric("Chunks", len(engine.reader.chunk_ids) if engine else counts.get("chunks", 0))
    cols[2].metric("Index on disk", human_size(on_disk))
    cols[3].metric("Uploaded originals", human_size(uploaded))
    by_lang = language_counts(engine, rows)
    if by_lang:
        cells = "".join(
            f"<tr data-lang='{safe(lang)}'><td>{safe(LANG_NAMES.get(lang, lang))}</td>"
            f"<td>{docs}</td><td>{chunks}</td></tr>"
            for lang, docs, chunks in by_lang
        )
        st.markdown(
            '<table class="manba-library manba-health"><thead><tr><th>Language</th>'
            f"<th>Documents</th><th>Chunks</th></tr></thead><tbody>{cells}</tbody></table>",
            unsafe_allow_html=True,
        )
    fingerprint = str(manifest.get("fingerprint", "")) or "—"
    updated = str(manifest.get("updated", "")) or "never"
    generation = manifest.get("generation", "—")
    st.markdown(
        f'<div class="manba-lib-note">Fingerprint <code>{safe(fingerprint)}</code> · '
        f"last updated {safe(updated)} · generation {safe(str(generation))} · "
        f"folder <code>{safe(str(index_dir))}</code></div>",
        unsafe_allow_html=True,
    )
    if manifest and fingerprint != settings.fingerprint():
        st.warning(
            "The index was built with other chunking, embedding or BM25 settings; the next "
            "upload (or `manba ingest --rebuild`) re-indexes every stored document."
        )


# --- the page -----------------------------------------------------------------------------

_STAGES = {
    "read": (0.0, 0.35, "Reading files"),
    "embed": (0.35, 0.5, "Embedding with the model"),
    "index": (0.5, 0.9, "Indexing documents"),
}


def _progress_bar() -> Callable[[Progress], None]:
    bar = st.progress(0.0, text="Starting…")

    def update(p: Progress) -> None:
        if p.stage == "finish":
            bar.progress(0.9 + 0.1 * (p.done / max(p.total, 1)), text="Writing the indexes")
            return
        low, high, label = _STAGES.get(p.stage, (0.0, 0.9, p.stage))
        share = p.done / max(p.total, 1)
        bar.progress(min(1.0, low + (high - low) * share), text=f"{label} ({p.done}/{p.total})")

    return update


def _flash(kind: str, text: str) -> None:
    """A status message (escaped) shown once, at the top of the next run."""
    st.session_state.setdefault("library-flash", []).append((kind, text))


def _esc(text: str) -> str:
    """Text for a status message (Markdown): escaped, on one line, no autolink."""
    return message(text)


def _name(text: str) -> str:
    """A name in a status message: escaped and isolated, so a right-to-left name neither
    reorders the sentence around it nor is reordered by it."""
    return f"{_FSI}{_esc(text)}{_PDI}"


def _say(kind: str, text: str) -> None:
    """Show a status message already escaped with ``_esc`` / ``_name``."""
    getattr(st, kind)(text)


_STATUS = {
    "added": ("success", "indexed"),
    "updated": ("success", "indexed again (its text changed)"),
    "unchanged": ("info", "already indexed, unchanged"),
}


def render_results(results: list[UploadResult]) -> None:
    for r in results:
        name = _name(r.name)
        stored = f" as {_name(r.stored_as)}" if r.stored_as and r.stored_as != r.name else ""
        if r.ok:
            kind, verb = _STATUS[r.status]
            docs = f" ({len(r.doc_ids)} documents)" if len(r.doc_ids) > 1 else ""
            _say(kind, f"{name}: {_esc(verb)}{stored}{_esc(docs)}.")
            for problem in r.problems:
                _say("warning", f"{name}: {_esc(problem)}")
        else:
            _say("error", f"{name} was not indexed: {_esc('; '.join(r.problems))}")


def render_upload(settings: Settings) -> None:
    st.subheader("Add documents")
    server_cap = int(st.get_option("server.maxUploadSize"))
    limit = min(settings.upload.max_mb, server_cap)
    types = sorted(s.lstrip(".") for s in SUPPORTED_SUFFIXES)
    st.caption(
        f"Files of type {', '.join('.' + t for t in types)}, up to {limit} MB each. A file "
        "with the name of one already uploaded replaces it."
    )
    if settings.upload.max_mb > server_cap:
        st.caption(
            f"MANBA_UPLOAD__MAX_MB is {settings.upload.max_mb} but Streamlit's "
            f"server.maxUploadSize is {server_cap}: raise it in .streamlit/config.toml."
        )
    generation = st.session_state.setdefault("library-uploader", 0)
    files = st.file_uploader(
        "Files to index",
        type=types,
        accept_multiple_files=True,
        max_upload_size=limit,
        key=f"library-upload-{generation}",
    )
    if files and st.button(f"Index {len(files)} file(s)", type="primary", key="library-index"):
        bar = _progress_bar()
        done = index_uploads([(f.name, f.getvalue()) for f in files], settings, bar)
        st.session_state["library-results"] = done
        st.session_state["library-uploader"] = generation + 1  # a fresh, empty uploader
        st.rerun()  # the manifest changed: app.py loads the new engine
    if results := st.session_state.get("library-results"):
        render_results(results)


def render_document_view(engine: Engine, row: DocRow, settings: Settings) -> None:
    d = row.info
    try:
        _, text = engine.reader.doc(d.doc_id)
    except KeyError:
        st.warning("This document is no longer in the index.")
        return
    with st.container(border=True):
        st.markdown(
            block(safe(d.title), d.lang, "font-size: 1.4rem; font-weight: 600;"),
            unsafe_allow_html=True,
        )
        facts = [
            f"<code>{safe(d.doc_id)}</code>",
            f"<bdi>{safe(d.source)}</bdi>" if d.source else "no source",
            safe(d.date) if d.date else "undated",
            safe(LANG_NAMES.get(d.lang, d.lang)),
            f"{row.chunks} chunks",
            f"{row.chars:,} characters",
            f"indexed {safe(when(row.indexed_at))}",
        ]
        st.markdown(
            f'<div class="manba-lib-note"><small>{" · ".join(facts)}</small></div>',
            unsafe_allow_html=True,
        )
        confirm = st.session_state.get("library-confirm") == d.doc_id
        if not confirm:
            if st.button("Remove from the index…", key="library-remove"):
                st.session_state["library-confirm"] = d.doc_id
                st.rerun()
        else:
            st.warning(
                "Remove this document from the index? Its passages stop being searched and "
                "cited; the other documents are not changed. An uploaded copy is deleted; a "
                "file ingested from elsewhere stays on disk."
            )
            yes, no = st.columns(2)
            if yes.button("Yes, remove it", type="primary", key="library-remove-yes"):
                st.session_state.pop("library-confirm", None)
                try:
                    done = remove_document(d.doc_id, settings)
                except ManbaError as err:
                    _flash("error", _esc(str(err)))
                else:
                    _flash(
                        "success" if done else "warning",
                        f"Removed {_name(d.doc_id)}."
                        if done
                        else f"{_name(d.doc_id)} was not in the index.",
                    )
                st.session_state["library-clear-pick"] = True
                st.rerun()  # the manifest changed: app.py loads the new engine
            if no.button("Cancel", key="library-remove-no"):
                st.session_state.pop("library-confirm", None)
                st.rerun()
        render_document(text, d.lang, key="library-doc")


def library_page(engine: Engine | None, settings: Settings) -> None:
    """The documents in the index; ``engine`` is None when there is no loadable index yet
    (the page then offers the upload that builds one)."""
    st.header("Library")
    st.markdown(_CSS, unsafe_allow_html=True)
    for kind, text in st.session_state.pop("library-flash", []):
        _say(kind, text)
    if st.session_state.pop("library-clear-pick", False):
        st.session_state.pop("library-pick", None)
    rows = engine.reader.catalog() if engine else []
    if engine is None and not (settings.index_dir / "manifest.json").exists():
        st.info(f"There is no index at `{settings.index_dir}` yet: upload files below to build it.")
    st.subheader("Documents")
    if not rows:
        counts = read_manifest(settings).get("counts")
        if engine is None and isinstance(counts, dict) and counts.get("documents"):
            st.caption("The documents are listed once the index loads (see the message above).")
        else:
            st.caption("No documents in the index.")
    else:
        search_col, sort_col, order_col = st.columns([3, 2, 1], vertical_alignment="bottom")
        query = search_col.text_input(
            "Search titles, document ids and sources",
            key="library-query",
            placeholder="e.g. Idlib · ادلب · إدلب",
        )
        by = sort_col.selectbox("Sort by", list(SORTS), key="library-sort")
        descending = order_col.toggle("Descending", key="library-desc")
        shown = sort_rows([r for r in rows if matches(r, query)], by, descending)
        st.caption(f"{len(shown)} of {len(rows)} documents")
        pages = max(1, -(-len(shown) // PAGE_SIZE))
        page = 1
        if pages > 1:
            page = int(st.number_input("Page", 1, pages, 1, key="library-page"))
        visible = shown[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        if visible:
            st.markdown(rows_table(visible), unsafe_allow_html=True)
        else:
            st.caption("No document matches the search.")
        by_id = {r.info.doc_id: r for r in shown}
        picked = st.selectbox(
            "Open a document",
            list(by_id),
            index=None,
            format_func=lambda doc_id: doc_label(by_id[doc_id]),
            placeholder="Choose a document to read it whole or remove it",
            key="library-pick",
        )
        if picked is not None and engine is not None and picked in by_id:
            render_document_view(engine, by_id[picked], settings)
    render_upload(settings)
    render_health(engine, rows, settings)
