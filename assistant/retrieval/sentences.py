"""How close in meaning sentences are to a question, with the sentences' vectors kept between questions.

The same passages come back for related questions, so a sentence's MiniLM vector is kept (least
recently used first out, 4,096 at most, as float32 arrays: 1.5 KB a sentence, not the 12 KB of a list of
Python floats) and a sentence is embedded once. Leaves out: persisting the vectors across restarts.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

SENTENCE_VECTORS = 4096  # sentence vectors kept for `closeness` (the same passages come back for related questions)


class SentenceVectors:
    """`closeness(vector, texts)`: the cosine of a query's vector to each text's, over a cache of the texts' vectors."""

    def __init__(self, embedder, size: int = SENTENCE_VECTORS):
        self.embedder = embedder
        self.size = size
        self._vectors: OrderedDict = OrderedDict()  # sentence -> its vector (numpy float32)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._vectors)

    def closeness(self, vector: list[float], texts: list[str]) -> list[float]:
        """How close in meaning each text is to a query: the cosine similarity of their MiniLM vectors (the
        query's is `Retrieval.vector`). The texts' vectors are kept for the next questions (least recently
        used first out), so that a sentence is embedded once."""
        import numpy as np

        with self._lock:
            known = {t: self._vectors[t] for t in texts if t in self._vectors}
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:  # kept as float32 arrays
            known.update(zip(missing, np.asarray(self.embedder.embed(missing), dtype=np.float32)))
        with self._lock:
            for t in dict.fromkeys(texts):
                self._vectors[t] = known[t]
                self._vectors.move_to_end(t)
            while len(self._vectors) > self.size:
                self._vectors.popitem(last=False)
        query = np.asarray(vector, dtype=np.float32)
        return [float(query @ known[t]) for t in texts]
