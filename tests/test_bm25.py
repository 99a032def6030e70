"""The lexical index reads a chunk as the dense index does: with its document's title and its section heading."""

from assistant.documents import Chunk
from assistant.index.bm25 import BM25Index, bm25_compounds, bm25_tokens
from assistant.language import content_words


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


def test_a_hyphenated_word_is_found_by_its_parts_and_the_parts_find_the_compound():
    """Trainees type "covid" for "COVID-19" and "civil military" for "civil-military": a query that writes a
    hyphenated word's parts apart, in order, also searches the word whole."""
    chunks = [
        chunk("pl", "Poland", "COVID-19 pandemic", "Soldiers delivered protective equipment to hospitals."),
        chunk("uk", "United Kingdom", "Floods", "The civil-military cell coordinated sandbags with councils."),
        chunk("gr", "Greece", "Fires", "Coventry reviews and militarism were not discussed."),
    ]
    index = BM25Index([c.doc_id for c in chunks], [bm25_tokens(c) for c in chunks],
                      {w: parts for c in chunks for w, parts in bm25_compounds(c).items()})
    assert index.search("what was done during covid", 3)[0][0] == "pl"
    assert index.search("civil military cell", 3)[0][0] == "uk"
    assert index.search("what did the civil-military cell do", 3)[0][0] == "uk"
    assert [i for i, _ in index.search("covid", 3)] == ["pl"]
    assert not index.search("military civil", 3)  # the parts in another order name something else
    assert "covid" not in bm25_tokens(chunks[0])  # a chunk is read whole: its hyphenated words do not lengthen it


def test_a_compound_only_a_reference_list_or_a_web_address_writes_is_not_searched_by_its_parts():
    """"Operation Rescript" must find the passage on the operation, not draw its weight to the reference list's
    "gov.uk/news/operation-rescript": a paper's apparatus is never retrieved, and a web address names a page."""
    refs = chunk("uk", "Resilience", "Article > References",
                 "7. Operation Rescript. Available from: <https://www.gov.uk/government/news/operation-rescript>")
    body = chunk("uk", "Resilience", "Article > Results",
                 "Operation Rescript was launched in 2020; see https://example.org/whole-of-society for a summary.")
    assert bm25_compounds(refs) == {}
    assert bm25_compounds(body) == {}  # a web address's words are not read as compounds
    index = BM25Index(["refs", "body"], [bm25_tokens(refs), bm25_tokens(body)], bm25_compounds(body))
    assert index.query_tokens("what was operation rescript") == content_words("what was operation rescript")
