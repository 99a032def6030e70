"""The embedded local model: Qwen2.5-Coder-1.5B-Instruct (GGUF from PyPI parts) run by xllamacpp.

Loaded once per process and shared; requests are served one at a time (a lock queues them, the 2
cores would not go faster in parallel). Tokens stream through a queue from xllamacpp's callback; once the
reader closes the stream (the pipeline has read what it needs: `base.read_until`), the callback stops the
generation at the next token, so the next request does not wait behind tokens nobody reads.
xllamacpp also listens on a loopback port with llama.cpp's OpenAI-compatible HTTP API
(`http_base_url`), which the tests use as a real OpenAI-compatible server.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path
from typing import Iterator

from assistant.errors import BackendUnavailable

_SHARED: dict[str, "LocalModel"] = {}
_SHARED_LOCK = threading.Lock()


def alternatives(logprobs: dict | None) -> dict[str, float]:
    """{token text: probability} of the first token's top alternatives in an OpenAI-style logprobs record."""
    import math

    content = (logprobs or {}).get("content") or []
    if not content:
        return {}
    return {alt["token"]: math.exp(alt["logprob"]) for alt in content[0].get("top_logprobs") or []}


class LocalModel:
    name = "local"

    def __init__(self, model_path: Path, n_ctx: int = 4096, threads: int = 2):
        import xllamacpp as xlc

        params = xlc.CommonParams()
        params.model.path = str(model_path)
        params.n_ctx = n_ctx
        params.n_parallel = 1
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.warmup = False
        params.verbosity = 0
        params.endpoint_metrics = True  # llama.cpp's counters (`handle_metrics`, /metrics on the loopback port)
        try:
            self.server = xlc.Server(params)
        except Exception as exc:
            raise BackendUnavailable(f"the local model {model_path} could not be loaded ({exc}); run `cimic model`") from exc
        self.path = model_path
        self._lock = threading.Lock()

    @classmethod
    def shared(cls, model_dir: Path) -> "LocalModel":
        from assistant.llm.model_file import ensure_model

        path = ensure_model(model_dir)
        with _SHARED_LOCK:
            if str(path) not in _SHARED:
                _SHARED[str(path)] = cls(path)
            return _SHARED[str(path)]

    @property
    def http_base_url(self) -> str:
        return f"{self.server.listening_address}/v1"

    def stream(self, messages: list[dict], max_tokens: int, first_token: dict | None = None) -> Iterator[str]:
        pieces: queue.Queue = queue.Queue()
        done = object()
        closed = threading.Event()
        request = {"messages": messages, "stream": True, "max_tokens": max_tokens, "temperature": 0.0,
                   "cache_prompt": True}
        if first_token is not None:
            request.update(logprobs=True, top_logprobs=5)

        def on_chunk(chunk) -> bool:  # True stops the generation
            if closed.is_set():
                return True
            if isinstance(chunk, dict) and chunk.get("error"):
                pieces.put(BackendUnavailable(f"the local model failed: {chunk['error']}"))
                return True
            for choice in (chunk or {}).get("choices", []):
                if first_token is not None and not first_token:
                    first_token.update(alternatives(choice.get("logprobs")))
                text = (choice.get("delta") or {}).get("content")
                if text:
                    pieces.put(text)
            return False

        def run():
            try:
                with self._lock:
                    result = self.server.handle_chat_completions(request, on_chunk)
                if isinstance(result, dict) and result.get("error"):
                    pieces.put(BackendUnavailable(f"the local model failed: {result['error']}"))
            except Exception as exc:  # surfaced to the caller as a user-safe error
                pieces.put(BackendUnavailable(f"the local model failed ({exc.__class__.__name__}: {exc})"))
            finally:
                pieces.put(done)

        threading.Thread(target=run, name="local-llm", daemon=True).start()
        try:
            while (item := pieces.get()) is not done:
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            closed.set()
