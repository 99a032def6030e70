"""The index: the Chroma store (embedded segments or a server), the embedder and BM25."""
