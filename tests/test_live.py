"""One live test against a real OpenAI-compatible endpoint: skipped unless MANBA_LIVE_TEST=1
and a key or base URL are set (CI never sets them; netguard would block the connection)."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest

from rag.config import LLMSettings, Settings
from rag.engine import Engine

LIVE = os.environ.get("MANBA_LIVE_TEST") == "1" and bool(
    os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL")
)


@pytest.mark.skipif(not LIVE, reason="set MANBA_LIVE_TEST=1 and OPENAI_API_KEY/OPENAI_BASE_URL")
def test_live_endpoint_writes_a_cited_answer(built_index: Settings) -> None:
    llm = replace(
        LLMSettings(),
        base_url=os.environ.get("OPENAI_BASE_URL", ""),
        api_key=os.environ.get("OPENAI_API_KEY", ""),
        model=os.environ.get("MANBA_LLM__MODEL", "gpt-4o-mini"),
    )
    with Engine(replace(built_index, llm=llm)) as engine:
        answer = engine.ask("What did Putin and Erdogan discuss about Idlib?")
        assert answer.generated_by, answer.warnings
        assert answer.citations and not answer.abstained
        for c in answer.citations:
            assert engine.reader.doc(c.doc_id)[1][c.start : c.end] == c.quote
