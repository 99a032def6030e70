"""The chat-model seam: a small protocol the answering chain talks to, and the back-end registry."""

from __future__ import annotations

from typing import Callable, Iterator, Protocol


class ChatModel(Protocol):
    name: str

    def stream(self, messages: list[dict], max_tokens: int, first_token: dict | None = None) -> Iterator[str]:
        """Yield text pieces of the assistant's reply to OpenAI-style messages. When `first_token` is a dict
        and the back-end reports log-probabilities, it is filled with the reply's first token alternatives,
        {token text: probability} (the answer gate reads how likely a refusal was). Closing the iterator stops
        the generation: no time is spent on tokens nobody reads."""
        ...


def complete(model: ChatModel, messages: list[dict], max_tokens: int) -> str:
    return "".join(model.stream(messages, max_tokens))


def read_until(model: ChatModel, messages: list[dict], max_tokens: int, enough: Callable[[str], bool]) -> str:
    """The reply read piece by piece until `enough(text so far)` holds, where the stream is closed (the generation
    stops there); the whole reply when it never does."""
    text = ""
    stream = model.stream(messages, max_tokens)
    try:
        for piece in stream:
            text += piece
            if enough(text):
                break
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    return text


def yes_probability(model: ChatModel, messages: list[dict]) -> float:
    """The model's one-token reply to a yes-or-no prompt, as P(yes) / (P(yes) + P(no)) from the token's
    log-probabilities; 1.0 for a reply beginning "yes" and 0.0 otherwise where the back-end reports none."""
    first: dict[str, float] = {}
    reply = "".join(model.stream(messages, 1, first_token=first))
    yes = sum(p for token, p in first.items() if token.strip().lower().startswith("y"))
    no = sum(p for token, p in first.items() if token.strip().lower().startswith("n"))
    if yes + no > 0:
        return yes / (yes + no)
    return 1.0 if reply.strip().lower().startswith("y") else 0.0


def make_chat_model(settings) -> ChatModel | None:
    """The configured back-end; None for `extractive`, which needs no chat model."""
    if settings.llm_backend == "extractive":
        return None
    if settings.llm_backend == "openai":
        from assistant.llm.openai_compat import OpenAICompatModel

        return OpenAICompatModel(settings)
    from assistant.llm.local import LocalModel

    return LocalModel.shared(settings.model_dir)
