"""Checking a question and its history before anything runs: clear messages for bad input."""

from __future__ import annotations

from assistant.errors import InvalidQuestion
from assistant.language import clean, norm_ws


def validate(question, history, max_chars: int, max_turns: int) -> tuple[str, list[tuple[str, str | None]]]:
    if not isinstance(question, str):
        raise InvalidQuestion(f"the question must be text, not {type(question).__name__}")
    q = norm_ws(clean(question))
    if not q:
        raise InvalidQuestion("the question is empty: type a question about CIMIC doctrine")
    if len(q) > max_chars:
        raise InvalidQuestion(f"the question is {len(q):,} characters long; the limit is {max_chars:,}. Ask a shorter question")
    if sum(ch.isalnum() for ch in q) == 0:
        raise InvalidQuestion("the question has no letters or digits: type a question about CIMIC doctrine")
    turns: list[tuple[str, str | None]] = []
    if history is None:
        history = []
    if not isinstance(history, (list, tuple)):
        raise InvalidQuestion("history must be a list of [user, assistant] pairs")
    for i, turn in enumerate(history):
        if not isinstance(turn, (list, tuple)) or len(turn) != 2:
            raise InvalidQuestion(f"history turn {i + 1} must be a [user, assistant] pair")
        user, bot = turn
        if not isinstance(user, str) or not (bot is None or isinstance(bot, str)):
            raise InvalidQuestion(f"history turn {i + 1} must hold text (the assistant's part may be null)")
        turns.append((norm_ws(clean(user))[:max_chars], None if bot is None else norm_ws(clean(bot))[:4 * max_chars]))
    return q, turns[-max_turns:] if max_turns else []
