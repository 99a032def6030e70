"""BM25 over the indexed chunks (bm25s), rebuilt in memory from each chunk's tokens (kept by the retriever
between refreshes) when the index changes."""

from __future__ import annotations

from assistant.documents import Chunk
from assistant.language import content_words, hyphenated, in_apparatus


def _text(c: Chunk) -> str:
    return f"{c.term or ''} {c.acronym or ''} {c.title} {c.section} {c.text}"


def bm25_tokens(c: Chunk) -> list[str]:
    """A chunk's words as the lexical index reads them: with its document's title and its section heading, as the
    dense index reads them too (`Chunk.embed_text`)."""
    return content_words(_text(c))


def bm25_compounds(c: Chunk) -> dict[str, tuple[str, ...]]:
    """The chunk's hyphenated words, each with its parts (`language.hyphenated`): what a query may name by its parts.
    None from a paper's apparatus (`language.in_apparatus`): it is never retrieved, and a compound only a reference
    list writes would draw a query's weight to a passage that cannot be cited."""
    return {} if in_apparatus(c.section) else dict(hyphenated(_text(c)))


def _holds_in_order(tokens: list[str], parts: tuple[str, ...]) -> bool:
    n = len(parts)
    return any(tuple(tokens[k:k + n]) == parts for k in range(len(tokens) - n + 1))


class BM25Index:
    def __init__(self, ids: list[str], tokens: list[list[str]], compounds: dict[str, tuple[str, ...]] | None = None):
        import bm25s

        self.ids = ids
        self.compounds = compounds or {}  # the index's hyphenated words and their parts
        self.model = bm25s.BM25()
        self.model.index([t or ["_empty_"] for t in tokens], show_progress=False)

    def query_tokens(self, query: str) -> list[str]:
        """The query's content words; the index's hyphenated words whose parts it writes apart, in order ("covid"
        finds "COVID-19", "civil military" "civil-military", as trainees type them); and the parts of a hyphenated
        word of its own that the index never writes whole ("full-scale" where the sources write "full scale").
        The chunks are read whole only, so a hyphenated word does not lengthen them (BM25 weighs length)."""
        tokens = content_words(query)
        vocab = self.model.vocab_dict
        extra = [p for w, parts in hyphenated(query) if w not in vocab for p in parts]
        extra += [w for w, parts in self.compounds.items() if w not in tokens and _holds_in_order(tokens, parts)]
        return tokens + extra

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        if not self.ids:
            return []
        vocab = self.model.vocab_dict
        tokens = [t for t in self.query_tokens(query) if t in vocab]
        if not tokens:
            return []
        k = min(k, len(self.ids))
        docs, scores = self.model.retrieve([tokens], k=k, show_progress=False, n_threads=1)
        return [(self.ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]
