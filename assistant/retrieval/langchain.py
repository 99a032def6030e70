"""The hybrid retriever as a LangChain retriever, for a user's own LCEL chains.

`CimicRetriever` is a `langchain_core.retrievers.BaseRetriever`: `invoke(query)` returns the k passages
that `HybridRetriever.retrieve` finds, best first (fused rank order; the assistant itself reads them in
the documents' order), as `Document`s whose `page_content` is the chunk's text and whose metadata says
where it comes from and how it was found: id, doc_id, title, section, kind, term, page, score (fused),
similarity (dense cosine; 0 when only BM25 found it), glossary_match. Like the assistant, it re-opens the
store when an ingest has written a new generation. `batch`, `ainvoke` and LangChain callbacks work as for
any retriever. Leaves out: the assistant's own spelling correction and follow-up condensing (the query
is searched as given; `HybridRetriever.correct` does the first).
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever


class CimicRetriever(BaseRetriever):
    """`HybridRetriever.as_langchain(k)`, or `CimicRetriever(retriever=hybrid, k=4)`."""

    retriever: Any  # a retrieval.hybrid.HybridRetriever
    k: int = 4

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        self.retriever.refresh_if_changed()
        retrieval = self.retriever.retrieve(query, self.k)
        by_id = {p.id: p for p in retrieval.passages}
        return [document(by_id[i]) for i in retrieval.ranked]


def document(p) -> Document:
    """A retrieved passage (`hybrid.Retrieved`) as a LangChain `Document`."""
    c = p.chunk
    return Document(id=p.id, page_content=c.text,
                    metadata={"id": p.id, "doc_id": c.doc_id, "title": c.title, "section": c.section, "kind": c.kind,
                              "term": c.term, "page": c.page, "score": float(p.score), "similarity": float(p.similarity),
                              "glossary_match": p.glossary_match})
