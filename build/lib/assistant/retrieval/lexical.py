"""BM25 over the indexed chunks (bm25s), rebuilt in memory when the index changes (milliseconds)."""

from __future__ import annotations

from assistant.ingest.documents import Chunk
from assistant.text import content_words


def _tokens(chunk_or_text) -> list[str]:
    if isinstance(chunk_or_text, Chunk):
        c = chunk_or_text
        return content_words(f"{c.term or ''} {c.acronym or ''} {c.section} {c.text}")
    return content_words(chunk_or_text)


class BM25Index:
    def __init__(self, ids: list[str], chunks: list[Chunk]):
        import bm25s

        self.ids = ids
        self.model = bm25s.BM25()
        corpus = [_tokens(c) or ["_empty_"] for c in chunks]
        self.model.index(corpus, show_progress=False)

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        tokens = _tokens(query)
        if not tokens or not self.ids:
            return []
        vocab = self.model.vocab_dict
        tokens = [t for t in tokens if t in vocab]
        if not tokens:
            return []
        k = min(k, len(self.ids))
        docs, scores = self.model.retrieve([tokens], k=k, show_progress=False, n_threads=1)
        return [(self.ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]
