"""Any OpenAI-compatible chat server (vLLM, Ollama, llama.cpp server) through langchain-openai.

Configured by CIMIC_LLM_BASE_URL, CIMIC_LLM_MODEL and optionally CIMIC_LLM_API_KEY. Connection
failures become `BackendUnavailable`, which the chain answers by falling back to extractive answers.
"""

from __future__ import annotations

from typing import Iterator

from assistant.errors import BackendUnavailable, ConfigError


class OpenAICompatModel:
    name = "openai"

    def __init__(self, settings):
        if not settings.llm_base_url:
            raise ConfigError("CIMIC_LLM_BACKEND=openai needs CIMIC_LLM_BASE_URL, e.g. http://127.0.0.1:8000/v1")
        from langchain_openai import ChatOpenAI

        self.base_url = settings.llm_base_url
        self.api_key = settings.llm_api_key
        self.llm = ChatOpenAI(base_url=settings.llm_base_url, model=settings.llm_model,
                              api_key=settings.llm_api_key or "not-needed", temperature=0,
                              timeout=settings.llm_timeout_s, max_retries=0)

    def stream(self, messages: list[dict], max_tokens: int, first_token: dict | None = None) -> Iterator[str]:
        import openai

        from assistant.llm.local import alternatives

        options = {"max_tokens": max_tokens, **({"logprobs": True, "top_logprobs": 5} if first_token is not None else {})}
        try:
            for chunk in self.llm.bind(**options).stream(messages):
                if first_token is not None and not first_token:
                    first_token.update(alternatives(chunk.response_metadata.get("logprobs")))
                if chunk.content:
                    yield chunk.content
        except (openai.APIConnectionError, openai.APITimeoutError, openai.InternalServerError) as exc:
            raise BackendUnavailable(f"the chat server at {self.base_url} does not answer ({exc.__class__.__name__})") from exc
        except openai.APIStatusError as exc:
            raise BackendUnavailable(f"the chat server at {self.base_url} refused the request: {exc.status_code} {exc.message}") from exc

    def probe(self) -> None:
        """GET {base}/models with a short timeout: raises BackendUnavailable when the server does not answer."""
        import httpx

        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            r = httpx.get(self.base_url.rstrip("/") + "/models", headers=headers, timeout=3.0)
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"the chat server at {self.base_url} does not answer ({exc.__class__.__name__})") from exc
        if r.status_code >= 500:
            raise BackendUnavailable(f"the chat server at {self.base_url} answers {r.status_code}")
