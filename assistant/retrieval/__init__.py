"""Finding the passages for a question: BM25 + dense search fused (`hybrid`), with the parts it is given:
glossary lookup (`glossary`), spelling correction (`spelling`), the sentence-vector cache (`sentences`);
follow-up condensing (`condense`); the retriever as a LangChain retriever (`langchain`)."""
