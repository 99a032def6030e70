"""BM25 over the indexed chunks (bm25s), rebuilt in memory from each chunk's tokens (kept by the retriever
between refreshes) when the index changes."""

from __future__ import annotations

from assistant.documents import Chunk
from assistant.language import content_words


def bm25_tokens(c: Chunk) -> list[str]:
    """A chunk's words as the lexical index reads them: with its document's title and its section heading, as the
    dense index reads them too (`Chunk.embed_text`)."""
    return content_words(f"{c.term or ''} {c.acronym or ''} {c.title} {c.section} {c.text}")


class BM25Index:
    def __init__(self, ids: list[str], tokens: list[list[str]]):
        import bm25s

        self.ids = ids
        self.model = bm25s.BM25()
        self.model.index([t or ["_empty_"] for t in tokens], show_progress=False)

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        tokens = content_words(query)
        if not tokens or not self.ids:
            return []
        vocab = self.model.vocab_dict
        tokens = [t for t in tokens if t in vocab]
        if not tokens:
            return []
        k = min(k, len(self.ids))
        docs, scores = self.model.retrieve([tokens], k=k, show_progress=False, n_threads=1)
        return [(self.ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]
