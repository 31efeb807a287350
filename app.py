"""Manba's Streamlit front end: reads settings, calls rag/, renders. No pipeline logic here.

Pages live in ``ui/``: ``ui/ask.py`` (questions and cited answers), ``ui/library.py`` (the
documents in the index), ``ui/evaluate.py`` (answer quality on a test set). This file loads
settings and the shared engine and picks the page.
"""

from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st

from rag.config import Settings, from_env
from rag.engine import Engine
from rag.errors import ManbaError
from ui.ask import ask_page
from ui.evaluate import evaluate_page
from ui.library import library_page
from ui.model_panel import model_panel

logger = logging.getLogger("manba.app")
PAGES = {"Ask": ask_page, "Library": library_page, "Evaluate": evaluate_page}

st.set_page_config(page_title="Manba", page_icon="📚", layout="wide")


# One engine for every session (Engine is thread-safe for reads). The key is the whole
# settings object (index folder included) and the manifest's mtime, so a new ingest or other
# settings load a new engine; max_entries=1 lets the old one go. It is not closed on release:
# a session that fetched it before the swap may still be answering with it.
@st.cache_resource(max_entries=1, show_spinner="Loading the index…")
def load_engine(settings: Settings, generation_key: float) -> Engine:
    del generation_key  # part of the cache key only
    return Engine(settings)


def main() -> None:
    try:
        settings = from_env()
    except ManbaError as err:
        st.error(f"Settings: {err}")
        return
    index_dir = str(settings.index_dir)
    manifest = Path(index_dir) / "manifest.json"
    st.title("Manba · منبع")
    st.caption("Ask in Persian, Arabic or English; every sentence of the answer is cited.")
    with st.sidebar:
        page = st.radio("Page", list(PAGES), horizontal=True, key="page")
    settings = model_panel(settings)
    # The library page opens without an engine (no index yet, or one it cannot load): its
    # uploads build or re-index the index. Every other page needs the engine.
    engine: Engine | None = None
    if not manifest.exists():
        if page != "Library":
            st.error(
                f"No index at `{index_dir}`. Build one with `make index` or "
                f"`manba ingest PATH --index {index_dir}`, or upload files on the Library page."
            )
            return
    else:
        try:
            engine = load_engine(settings, manifest.stat().st_mtime)
        except ManbaError as err:
            st.error(str(err))
            if page != "Library":
                return
        except Exception:
            logger.exception("could not load the index at %s", index_dir)
            st.error(
                f"Manba could not open the index at `{index_dir}`. Rebuild it with `make index` "
                f"(or `manba ingest PATH --index {index_dir} --rebuild`), then reload this page."
            )
            return
    if engine is None:
        library_page(None, settings)
    else:
        PAGES[page](engine, settings)


main()
