"""The lexical index reads a chunk as the dense index does: with its document's title and its section heading."""

from assistant.documents import Chunk
from assistant.index.bm25 import BM25Index, bm25_tokens


def chunk(doc_id, title, section, text):
    return Chunk(doc_id=doc_id, title=title, section=section, text=text, start=0, end=len(text), path=f"{doc_id}.md")


def test_a_question_split_between_a_documents_title_and_its_text_finds_that_document():
    """A chunk seldom repeats its document's subject ("flood relief in Silesia" is said by the title, not by the
    paragraph on its costs): without the title, a chunk of another source that mentions floods in passing wins."""
    chunks = [
        chunk("silesia", "Flood relief in Silesia", "Costs", "The operation cost 40 million over three months."),
        chunk("greece", "Wildfire response in Greece", "Costs", "Its cost was lower than flood relief, at 12 million."),
        chunk("greece", "Wildfire response in Greece", "Aircraft", "Twelve aircraft dropped water on the fires."),
    ]
    index = BM25Index([c.doc_id + c.section for c in chunks], [bm25_tokens(c) for c in chunks])
    assert index.search("what did the flood relief in silesia cost", 3)[0][0] == "silesiaCosts"
    assert "silesia" in bm25_tokens(chunks[0]) and "cost" in bm25_tokens(chunks[0])
