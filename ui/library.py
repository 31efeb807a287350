"""The library page: the documents in the index (filled in by the UI issue)."""

from __future__ import annotations

import streamlit as st

from rag.config import Settings
from rag.engine import Engine


def library_page(engine: Engine, settings: Settings) -> None:
    st.header("Library")
    st.caption(f"Index: {settings.index_dir}")
