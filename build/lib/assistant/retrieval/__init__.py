"""Finding the passages for a question: BM25 + dense search fused, glossary lookup, follow-up condensing."""
