"""Deterministic fakes for fast unit tests at the seams (never in place of what an issue asks for)."""

from __future__ import annotations

import hashlib
import math
import re


class HashEmbedder:
    """Bag of hashed words -> 384-d unit vector: same text, same vector; shared words, close vectors."""

    name = "hash-384"

    def __init__(self, dim: int = 384):
        self.dim = dim
        self.calls = 0
        self.embedded = 0

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        self.embedded += len(texts)
        out = []
        for text in texts:
            vec = [0.0] * self.dim
            for word in re.findall(r"\w+", text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big")
                vec[h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
            norm = math.sqrt(sum(v * v for v in vec)) or 1.0
            out.append([v / norm for v in vec])
        return out

    def count_tokens(self, text: str) -> int:
        return len(re.findall(r"\w+|[^\w\s]", text))


class ScriptedModel:
    """A chat model that replies with the given texts in turn (then NOT_IN_SOURCES), streamed in two pieces (word
    by word with `by_word`), and keeps the messages it was sent (`seen`) and, for a reply whose stream was closed
    before its end, the text it never gave (`unread`)."""

    name = "scripted"

    def __init__(self, replies, by_word=False):
        self.replies = list(replies)
        self.seen = []
        self.by_word = by_word
        self.unread = []

    def stream(self, msgs, max_tokens, first_token=None):
        self.seen.append(msgs)
        reply = self.replies.pop(0) if self.replies else "NOT_IN_SOURCES"
        if self.by_word:
            pieces = re.findall(r"\S+\s*", reply)
        else:  # the first word, then the rest
            first = reply.split(" ")[0]
            pieces = [first, reply[len(first):]] if reply[len(first):] else [first]
        for i, piece in enumerate(pieces):
            try:
                yield piece
            except GeneratorExit:
                self.unread.append("".join(pieces[i + 1:]))
                raise
