"""The connected mode's model: one OpenAI-compatible chat endpoint through the ``openai`` client.

Only built when ``LLMSettings.connected``; offline Manba never imports a client or opens a
socket. Failures become ``ModelError`` with the endpoint and what to check.
"""

from __future__ import annotations

from collections.abc import Iterator
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

    def _error(self, exc: Exception) -> ModelError:
        import openai

        text = str(exc)
        if isinstance(exc, openai.BadRequestError) and "context" in text.lower():
            return ModelError(
                f"the model {self.label} refused the request as too long for its context: "
                "lower MANBA_LLM__CONTEXT_TOKENS"
            )
        if isinstance(exc, openai.AuthenticationError):
            return ModelError(f"the model {self.label} refused the key: check OPENAI_API_KEY")
        if isinstance(exc, openai.RateLimitError):
            return ModelError(
                f"the model {self.label} is rate-limited (HTTP 429) after "
                f"{self.settings.max_retries} retries; wait, or raise MANBA_LLM__MAX_RETRIES"
            )
        if isinstance(exc, openai.APITimeoutError):
            return ModelError(
                f"the model {self.label} did not answer within {self.settings.timeout:g} s; "
                "raise MANBA_LLM__TIMEOUT or check the server"
            )
        return ModelError(
            f"the model {self.label} failed: {exc}. Check MANBA_LLM__BASE_URL / "
            "OPENAI_BASE_URL, the key and the model name (MANBA_LLM__MODEL)"
        )

    def _create(self, system: str, user: str, **options: Any) -> Any:
        """One chat completions request (temperature 0 unless given)."""
        return self._client.chat.completions.create(
            model=self.settings.model,
            messages=[
                {"role": "system", "content": system},
                {"role": "user", "content": user},
            ],
            temperature=options.pop("temperature", 0.0),
            **options,
        )

    def _count(self, response: Any) -> None:
        """Add a response's (or stream chunk's) reported token usage to ``usage``."""
        usage = getattr(response, "usage", None)
        if usage is not None:
            for key in self.usage:
                self.usage[key] += int(getattr(usage, key, 0) or 0)

    def stream(self, system: str, user: str, **options: Any) -> Iterator[str]:
        """The reply in pieces as the endpoint sends them (temperature 0 unless given)."""
        import openai

        try:
            for chunk in self._create(system, user, stream=True, **options):
                self._count(chunk)
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
        except openai.APIError as exc:
            raise self._error(exc) from exc

    def complete(self, system: str, user: str, **options: Any) -> str:
        """The model's reply to one system + user exchange (temperature 0 unless given)."""
        import openai

        try:
            response = self._create(system, user, **options)
        except openai.APIError as exc:
            raise self._error(exc) from exc
        self._count(response)
        if not response.choices or response.choices[0].message.content is None:
            raise ModelError(f"the model {self.label} returned no text")
        return response.choices[0].message.content
