"""The connected mode's model: one OpenAI-compatible chat endpoint through the ``openai`` client.

Only built when ``LLMSettings.connected``; offline Manba never imports a client or opens a
socket. Failures become ``ModelError`` with the endpoint and what to check.
"""

from __future__ import annotations

from typing import Any

from rag.config import LLMSettings
from rag.errors import ModelError


class ChatModel:
    """Chat completions against ``settings.base_url`` (or OpenAI's default endpoint)."""

    def __init__(self, settings: LLMSettings) -> None:
        import openai

        self.settings = settings
        self._client = openai.OpenAI(
            base_url=settings.base_url or None,
            # Local servers (Ollama, vLLM) take any key; the client insists on one.
            api_key=settings.api_key or "not-needed",
            timeout=settings.timeout,
            max_retries=settings.max_retries,
        )
        # Tokens used so far, as the endpoint reported them (evaluation reports them).
        self.usage = {"prompt_tokens": 0, "completion_tokens": 0}

    @property
    def label(self) -> str:
        return f"{self.settings.model} at {self.settings.base_url or 'api.openai.com'}"

    def complete(self, system: str, user: str, **options: Any) -> str:
        """The model's reply to one system + user exchange (temperature 0 unless given)."""
        import openai

        try:
            response = self._client.chat.completions.create(
                model=self.settings.model,
                messages=[
                    {"role": "system", "content": system},
                    {"role": "user", "content": user},
                ],
                temperature=options.pop("temperature", 0.0),
                **options,
            )
        except openai.APIError as exc:
            raise ModelError(
                f"the model {self.label} failed: {exc}. Check MANBA_LLM__BASE_URL / "
                "OPENAI_BASE_URL, the key and the model name (MANBA_LLM__MODEL)"
            ) from exc
        usage = getattr(response, "usage", None)
        if usage is not None:
            self.usage["prompt_tokens"] += int(getattr(usage, "prompt_tokens", 0) or 0)
            self.usage["completion_tokens"] += int(getattr(usage, "completion_tokens", 0) or 0)
        if not response.choices or response.choices[0].message.content is None:
            raise ModelError(f"the model {self.label} returned no text")
        return response.choices[0].message.content
