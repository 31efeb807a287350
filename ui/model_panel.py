"""The sidebar's model settings: connect an OpenAI-compatible endpoint for this session.

What is set here overrides MANBA_LLM__* / OPENAI_* / manba.toml for this browser session only
(the key is kept in the session's memory, never written to disk); "Offline" goes back to the
extractive mode. The engine is rebuilt with the new settings.
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from rag.config import LLMSettings, Settings
from rag.errors import ManbaError

_KEY = "llm-override"


def model_panel(settings: Settings) -> Settings:
    """``settings`` with this session's model choice applied."""
    current: LLMSettings = st.session_state.get(_KEY, settings.llm)
    with st.sidebar.expander("Model (connected mode)", expanded=False):
        st.caption(
            "Any OpenAI-compatible endpoint: OpenAI, Azure OpenAI (its /openai/v1 URL), "
            "Ollama, vLLM, LM Studio. Applies to this session only."
        )
        with st.form("model-form", border=False):
            base_url = st.text_input(
                "Base URL", current.base_url, placeholder="http://localhost:11434/v1"
            )
            model = st.text_input("Chat model", current.model)
            api_key = st.text_input(
                "API key", current.api_key, type="password", help="Kept in memory only."
            )
            answers = st.checkbox("The model writes the answers", current.answers)
            translate = st.checkbox("Translate questions for retrieval", current.translate)
            lang = st.selectbox(
                "Answer language",
                ["", "fa", "ar", "en"],
                index=["", "fa", "ar", "en"].index(current.answer_lang),
                format_func=lambda x: {"": "the question's", "fa": "Persian", "ar": "Arabic"}.get(
                    x, "English"
                ),
            )
            temperature = st.number_input(
                "Temperature", 0.0, 2.0, float(current.temperature), 0.1, format="%.1f"
            )
            connect = st.form_submit_button("Apply")
        if connect:
            try:
                st.session_state[_KEY] = replace(
                    current,
                    base_url=base_url.strip(),
                    model=model.strip() or current.model,
                    api_key=api_key.strip(),
                    answers=answers,
                    translate=translate,
                    answer_lang=lang,
                    temperature=temperature,
                )
            except ManbaError as err:
                st.error(str(err))
        if st.session_state.get(_KEY) is not None and st.button("Offline (extractive)"):
            st.session_state[_KEY] = replace(current, base_url="", api_key="")
    chosen: LLMSettings | None = st.session_state.get(_KEY)
    return settings if chosen is None else replace(settings, llm=chosen)
