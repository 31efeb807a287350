"""Serve the app (``make run``): the pipeline's heavy imports first, then Streamlit.

Streamlit runs ``app.py`` in this process when the first browser connects; importing
llama-index, the stores and the lexicon here, before the server prints its URL, means that
first page does not wait seconds for them.

    python -m ui.serve [streamlit run options]
"""

from __future__ import annotations

import sys


def warm_up() -> None:
    """Import what the first page needs and load the cross-lingual lexicon (no index is
    opened: the app opens the one its settings name). Every module app.py imports is
    imported here, so sessions starting together never import one for the first time at
    once."""
    import rag.engine  # noqa: F401  (llama-index, bm25s, numpy)
    import ui.ask
    import ui.evaluate
    import ui.library
    import ui.model_panel  # noqa: F401
    from rag import crossling

    crossling.lexicon()


def main(argv: list[str] | None = None) -> int:
    warm_up()
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", "app.py", *(sys.argv[1:] if argv is None else argv)]
    return int(cli.main() or 0)


if __name__ == "__main__":
    sys.exit(main())
