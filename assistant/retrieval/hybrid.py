"""Hybrid retrieval: dense (Chroma) and BM25 results fused by reciprocal rank, glossary terms first.

A question that names a glossary term or acronym ("What is CMI?") gets that entry first. Near-
duplicate chunks (the same sentences in two places) are collapsed to one. `relevance` is the best
dense similarity, the number the refusal gate compares with its calibrated threshold. The retriever
re-opens the store when `cimic ingest` has written a new generation. Leaves out: rerankers.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from assistant.ingest.documents import Chunk
from assistant.retrieval.lexical import BM25Index
from assistant.text import content_words, fold

RRF_K = 60
_DEFINITIONAL = re.compile(r"^\W*(what\s+(is|are|does|do)\b|define\b|definition\b|meaning\b|explain\b|who\s+is\b)"
                           r"|\bstand\s+for\b|\bdefin(e|ition)\b|\bmeans?\b", re.I)


def is_definitional(question: str) -> bool:
    """'What is X?', 'define X', 'what does X stand for': a question that asks for a definition."""
    return bool(_DEFINITIONAL.search(question))


@dataclass
class Retrieved:
    id: str
    chunk: Chunk
    score: float  # fused score
    similarity: float  # dense cosine similarity (0 when only BM25 found it)
    glossary_match: bool = False


@dataclass
class Retrieval:
    query: str
    passages: list[Retrieved]
    relevance: float  # best dense similarity among the candidates


def _shingles(text: str) -> set[tuple[str, ...]]:
    w = content_words(text)
    return {tuple(w[i:i + 3]) for i in range(max(len(w) - 2, 1))}


def near_duplicate(a: str, b: str, threshold: float = 0.8) -> bool:
    sa, sb = _shingles(a), _shingles(b)
    if not sa or not sb:
        return False
    return len(sa & sb) / min(len(sa), len(sb)) >= threshold


class HybridRetriever:
    def __init__(self, open_store, embedder, candidates: int = 20, token=None):
        """`open_store()` returns (ChromaStore, generation token); `token()` tells the current generation
        cheaply, and the store is opened again when it changes."""
        self._open_store = open_store
        self._current_token = token
        self.embedder = embedder
        self.candidates = candidates
        self._lock = threading.Lock()
        self._token = None
        self.store = None
        self.chunks: dict[str, Chunk] = {}
        self.bm25 = None
        self._terms: list[tuple[str, str]] = []

    def refresh(self, token_now=None) -> None:
        with self._lock:
            if self.store is not None and token_now is not None and token_now == self._token:
                return
            store, token = self._open_store()
            old, self.store, self._token = self.store, store, token
            self.chunks = store.chunks()
            ids = list(self.chunks)
            self.bm25 = BM25Index(ids, [self.chunks[i] for i in ids])
            self._terms = []
            for i, c in self.chunks.items():
                if c.kind == "glossary" and c.term:
                    base = re.sub(r"\s*\([^)]*\)\s*$", "", c.term)
                    for name in {c.term, base, c.acronym or ""} - {""}:
                        self._terms.append((fold(name), i))
            if old is not None:
                old.close()

    def refresh_if_changed(self) -> None:
        if self._current_token is None:
            if self.store is None:
                self.refresh()
            return
        now = self._current_token()
        if self.store is None or now != self._token:
            self.refresh(now)

    def count(self) -> int:
        return len(self.chunks)

    def glossary_matches(self, query: str) -> list[tuple[str, bool]]:
        """Glossary chunk ids whose term or acronym the query names, longest name first, with whether
        the match is strong (an acronym, a multi-word term, or a definitional question)."""
        q = " " + fold(re.sub(r"[^\w\s-]", " ", query)) + " "
        definitional = is_definitional(query)
        found = {}
        for name, i in self._terms:
            if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", q):
                strong = definitional or (" " in name and len(name) > 12)
                if i not in found or (len(name), strong) > found[i]:
                    found[i] = (len(name), strong)
        return [(i, v[1]) for i, v in sorted(found.items(), key=lambda kv: kv[1], reverse=True)]

    def retrieve(self, query: str, k: int) -> Retrieval:
        if self.store is None:
            self.refresh()
        vector = self.embedder.embed([query])[0]
        dense = self.store.query(vector, self.candidates)
        lexical = self.bm25.search(query, self.candidates)
        fused: dict[str, float] = {}
        sims = {h.id: h.similarity for h in dense}
        for rank, h in enumerate(dense):
            fused[h.id] = fused.get(h.id, 0) + 1 / (RRF_K + rank + 1)
        for rank, (i, _) in enumerate(lexical):
            fused[i] = fused.get(i, 0) + 1 / (RRF_K + rank + 1)
        matches = self.glossary_matches(query)
        terms = [i for i, _ in matches]
        for rank, (i, strong) in enumerate(matches[:2]):
            # a term the question names comes first; a common word that happens to be a term only counts once more
            fused[i] = fused.get(i, 0) + (1.0 / (rank + 1) if strong else 1 / (RRF_K + 1))
        ordered = sorted(fused, key=fused.get, reverse=True)
        passages: list[Retrieved] = []
        for i in ordered:
            chunk = self.chunks.get(i) or next((h.chunk for h in dense if h.id == i), None)
            if chunk is None:
                continue
            if any(near_duplicate(chunk.text, p.chunk.text) for p in passages):
                continue
            passages.append(Retrieved(i, chunk, fused[i], sims.get(i, 0.0), i in terms))
            if len(passages) >= k:
                break
        relevance = max([h.similarity for h in dense] + [1.0 if any(s for _, s in matches) else 0.0])
        return Retrieval(query, passages, relevance)
